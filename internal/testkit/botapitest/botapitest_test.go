package botapitest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const token = "123:TEST"

type answer struct {
	status int
	body   map[string]any
}

func post(t *testing.T, url string, body any) answer {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := http.Post(url, "application/json", bytes.NewReader(raw))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return answer{resp.StatusCode, out}
}

func TestSendMessageAcceptsAndRecords(t *testing.T) {
	s := New(t, token)
	a := post(t, s.URL()+"/bot"+token+"/sendMessage", map[string]any{
		"chat_id": -100123, "text": "<b>hi</b> &amp; bye", "parse_mode": "HTML",
		"disable_notification": true, "link_preview_options": map[string]any{"is_disabled": true},
		"message_thread_id": 7,
	})
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, true, a.body["ok"])
	result := a.body["result"].(map[string]any)
	require.Equal(t, float64(1), result["message_id"])
	require.Equal(t, float64(-100123), result["chat"].(map[string]any)["id"])
	require.Equal(t, "hi & bye", result["text"], "the visible text, as Telegram answers")
	require.Equal(t, []Message{{
		ChatID: "-100123", MessageID: 1, Text: "<b>hi</b> &amp; bye", ParseMode: "HTML",
		DisableNotification: true, LinkPreviewDisabled: true, MessageThreadID: 7,
	}}, s.Messages())
	require.Equal(t, 1, s.Requests())
}

func TestSendMessageRejects(t *testing.T) {
	long := strings.Repeat("é", MaxTextRunes+1)
	tests := []struct {
		name   string
		path   string
		body   map[string]any
		status int
		desc   string
	}{
		{"wrong token", "/botnope/sendMessage", map[string]any{"chat_id": 1, "text": "x"}, 401, "Unauthorized"},
		{"unknown method", "/bot" + token + "/sendPhoto", map[string]any{}, 404, "Not Found"},
		{"no chat", "", map[string]any{"text": "x"}, 400, "chat_id is empty"},
		{"no text", "", map[string]any{"chat_id": 1}, 400, "message text is empty"},
		{"blank text", "", map[string]any{"chat_id": 1, "text": " \n"}, 400, "message text is empty"},
		{"too long", "", map[string]any{"chat_id": 1, "text": long}, 400, "message is too long"},
		{"too long after entities", "", map[string]any{"chat_id": 1, "text": "<b>" + strings.Repeat("&lt;", MaxTextRunes+1) + "</b>", "parse_mode": "HTML"}, 400, "message is too long"},
		{"only markup", "", map[string]any{"chat_id": 1, "text": "<b> </b>", "parse_mode": "HTML"}, 400, "message text is empty"},
		{"bad parse_mode", "", map[string]any{"chat_id": 1, "text": "x", "parse_mode": "Markdown"}, 400, "unsupported parse_mode"},
		{"reply to unknown", "", map[string]any{"chat_id": 1, "text": "x", "reply_parameters": map[string]any{"message_id": 7}}, 400, ReplyNotFound},
		{"legacy reply to unknown", "", map[string]any{"chat_id": 1, "text": "x", "reply_to_message_id": 7}, 400, ReplyNotFound},
		{"reply parameters unknown field", "", map[string]any{"chat_id": 1, "text": "x", "reply_parameters": map[string]any{"message_id": 7, "allow_sending_without_replay": true}}, 400, "can't parse reply parameters JSON object"},
		{"reply parameters not an object", "", map[string]any{"chat_id": 1, "text": "x", "reply_parameters": 7}, 400, "can't parse reply parameters JSON object"},
		{"reply parameters without message_id", "", map[string]any{"chat_id": 1, "text": "x", "reply_parameters": map[string]any{"allow_sending_without_reply": true}}, 400, "message_id is required"},
		{"edit unknown message", "/bot" + token + "/editMessageText", map[string]any{"chat_id": 1, "message_id": 1, "text": "x"}, 400, EditNotFound},
		{"unknown tag", "", map[string]any{"chat_id": 1, "text": "<script>x</script>", "parse_mode": "HTML"}, 400, "can't parse entities"},
		{"unclosed", "", map[string]any{"chat_id": 1, "text": "<b>x", "parse_mode": "HTML"}, 400, "can't parse entities"},
		{"crossed", "", map[string]any{"chat_id": 1, "text": "<b><i>x</b></i>", "parse_mode": "HTML"}, 400, "can't parse entities"},
		{"bare amp", "", map[string]any{"chat_id": 1, "text": "a & b", "parse_mode": "HTML"}, 400, "can't parse entities"},
		{"bare lt", "", map[string]any{"chat_id": 1, "text": "a < b", "parse_mode": "HTML"}, 400, "can't parse entities"},
		{"a without href", "", map[string]any{"chat_id": 1, "text": "<a>x</a>", "parse_mode": "HTML"}, 400, "can't parse entities"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, token)
			path := tt.path
			if path == "" {
				path = "/bot" + token + "/sendMessage"
			}
			a := post(t, s.URL()+path, tt.body)
			require.Equal(t, tt.status, a.status)
			require.Equal(t, false, a.body["ok"])
			require.Equal(t, float64(tt.status), a.body["error_code"])
			require.Contains(t, a.body["description"], tt.desc)
			require.Empty(t, s.Messages())
		})
	}
}

func TestValidateHTMLAccepts(t *testing.T) {
	for _, text := range []string{
		"plain > text",
		`<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>i</ins><s>s</s><strike>s</strike><del>d</del>`,
		`<span class="tg-spoiler">x</span><tg-spoiler>y</tg-spoiler><a href="http://x">l</a>`,
		`<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji><code>c</code><pre><code class="language-go">x</code></pre>`,
		`<blockquote expandable>q</blockquote> &lt;&gt;&amp;&quot;&#38;&#x26;`,
	} {
		require.NoError(t, ValidateHTML(text), text)
	}
}

func TestScriptedAnswers(t *testing.T) {
	s := New(t, token)
	s.Enqueue(Response{Status: 429, RetryAfter: 3}, Response{Status: 500})
	url := s.URL() + "/bot" + token + "/sendMessage"
	body := map[string]any{"chat_id": "@chan", "text": "x"}

	a := post(t, url, body)
	require.Equal(t, 429, a.status)
	require.Equal(t, map[string]any{"retry_after": float64(3)}, a.body["parameters"])
	require.Equal(t, 500, post(t, url, body).status)
	require.Equal(t, 200, post(t, url, body).status)

	s.SetDefault(Response{Status: 403, Description: "Forbidden: bot was kicked"})
	a = post(t, url, body)
	require.Equal(t, 403, a.status)
	require.Equal(t, "Forbidden: bot was kicked", a.body["description"])

	require.Equal(t, 4, s.Requests())
	require.Equal(t, []Message{{ChatID: "@chan", MessageID: 1, Text: "x"}}, s.Messages())
}

func TestDelayEndsWhenClientGoesAway(t *testing.T) {
	s := New(t, token)
	s.Enqueue(Response{Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/bot"+token+"/sendMessage",
		strings.NewReader(`{"chat_id":1,"text":"x"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	_, err = http.DefaultClient.Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Empty(t, s.Messages())
	// The queue entry was used; the next request is answered at once.
	require.Equal(t, 200, post(t, s.URL()+"/bot"+token+"/sendMessage", map[string]any{"chat_id": 1, "text": "y"}).status)
}

func TestCloseEndsDelayedRequests(t *testing.T) {
	s := New(t, token)
	s.SetDefault(Response{Delay: time.Hour})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp, err := http.Post(s.URL()+"/bot"+token+"/sendMessage", "application/json", strings.NewReader(`{"chat_id":1,"text":"x"}`))
		if err == nil {
			resp.Body.Close()
		}
	}()
	require.Eventually(t, func() bool { return s.Requests() == 1 }, 10*time.Second, 5*time.Millisecond)
	s.Close() // would block for an hour if the delay ignored the close
	wg.Wait()
	_, err := http.Post(s.URL()+"/bot"+token+"/sendMessage", "application/json", strings.NewReader(`{}`))
	require.ErrorContains(t, err, "connection refused")
}

func TestConcurrentUse(t *testing.T) {
	s := New(t, token)
	url := s.URL() + "/bot" + token + "/sendMessage"
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			resp, err := http.Post(url, "application/json", strings.NewReader(`{"chat_id":1,"text":"x"}`))
			if err == nil {
				resp.Body.Close()
			}
			_ = s.Messages()
		})
	}
	wg.Wait()
	require.Len(t, s.Messages(), 20)
	require.Equal(t, 20, s.Requests())
}

func TestLengthCountedAfterEntityParsing(t *testing.T) {
	s := New(t, token)
	url := s.URL() + "/bot" + token + "/sendMessage"
	// 4096 visible characters, far more bytes and runes of markup.
	text := "<b>" + strings.Repeat("&lt;", 2000) + "</b>" + strings.Repeat("&amp;", 2096)
	require.Equal(t, MaxTextRunes, len([]rune(VisibleText(text, "HTML"))))
	require.Equal(t, 200, post(t, url, map[string]any{"chat_id": 1, "text": text, "parse_mode": "HTML"}).status)
	// The same characters without parse_mode are the raw text: too long.
	require.Equal(t, 400, post(t, url, map[string]any{"chat_id": 1, "text": text}).status)
}

func TestVisibleText(t *testing.T) {
	require.Equal(t, `a<b> & "c" é é`, VisibleText(`<b>a&lt;b&gt;</b> &amp; &quot;c&quot; &#233; &#xe9;`, "HTML"))
	require.Equal(t, "<b>x</b>", VisibleText("<b>x</b>", ""))
	require.Equal(t, "a & b", VisibleText("a & b", "HTML"), "invalid HTML is not decoded")
}

func TestMessageIDsCountUpPerChat(t *testing.T) {
	s := New(t, token)
	url := s.URL() + "/bot" + token + "/sendMessage"
	var ids []any
	for _, chat := range []any{-1001, -1002, -1001, "@chan", -1001, -1002} {
		a := post(t, url, map[string]any{"chat_id": chat, "text": "x"})
		require.Equal(t, 200, a.status)
		ids = append(ids, a.body["result"].(map[string]any)["message_id"])
	}
	require.Equal(t, []any{1.0, 1.0, 2.0, 1.0, 3.0, 2.0}, ids)
}

func TestReplies(t *testing.T) {
	s := New(t, token)
	url := s.URL() + "/bot" + token + "/sendMessage"
	send := func(body map[string]any) answer {
		body["chat_id"] = -100
		if body["text"] == nil {
			body["text"] = "x"
		}
		return post(t, url, body)
	}
	require.Equal(t, 200, send(map[string]any{}).status) // message 1
	a := send(map[string]any{"reply_parameters": map[string]any{"message_id": 1}})
	require.Equal(t, 200, a.status)
	require.Equal(t, map[string]any{"message_id": 1.0}, a.body["result"].(map[string]any)["reply_to_message"])

	// A reply to a message of another chat, or to one that never existed, is
	// refused; allow_sending_without_reply sends it as a plain message.
	require.Equal(t, ReplyNotFound, send(map[string]any{"reply_parameters": map[string]any{"message_id": 9}}).body["description"])
	a = send(map[string]any{"reply_parameters": map[string]any{"message_id": 9, "allow_sending_without_reply": true}})
	require.Equal(t, 200, a.status)
	require.Nil(t, a.body["result"].(map[string]any)["reply_to_message"])

	// A deleted message cannot be replied to either.
	require.True(t, s.Delete("-100", 1))
	require.False(t, s.Delete("-100", 99))
	require.Equal(t, ReplyNotFound, send(map[string]any{"reply_parameters": map[string]any{"message_id": 1}}).body["description"])
	require.Equal(t, 200, send(map[string]any{"reply_parameters": map[string]any{"message_id": 1, "allow_sending_without_reply": true}}).status)
	// The legacy parameters work the same way.
	require.Equal(t, 200, send(map[string]any{"reply_to_message_id": 2}).status)
	require.Equal(t, ReplyNotFound, send(map[string]any{"reply_to_message_id": 1}).body["description"])

	var replies []int64
	for _, m := range s.Messages() {
		replies = append(replies, m.ReplyTo)
	}
	require.Equal(t, []int64{0, 1, 0, 0, 2}, replies)
	require.True(t, s.Messages()[0].Deleted)
}

func TestEditMessageText(t *testing.T) {
	s := New(t, token)
	send := s.URL() + "/bot" + token + "/sendMessage"
	edit := s.URL() + "/bot" + token + "/editMessageText"
	require.Equal(t, 200, post(t, send, map[string]any{"chat_id": -100, "text": "<b>alert</b>", "parse_mode": "HTML"}).status)

	a := post(t, edit, map[string]any{"chat_id": -100, "message_id": 1, "text": "✅ <b>alert</b>", "parse_mode": "HTML"})
	require.Equal(t, 200, a.status)
	require.Equal(t, "✅ alert", a.body["result"].(map[string]any)["text"])

	for _, tt := range []struct {
		name string
		body map[string]any
		desc string
	}{
		{"unchanged", map[string]any{"chat_id": -100, "message_id": 1, "text": "✅ <b>alert</b>", "parse_mode": "HTML"}, NotModified},
		{"unknown message", map[string]any{"chat_id": -100, "message_id": 2, "text": "y"}, EditNotFound},
		{"other chat", map[string]any{"chat_id": -200, "message_id": 1, "text": "y"}, EditNotFound},
		{"invalid HTML", map[string]any{"chat_id": -100, "message_id": 1, "text": "<b>y", "parse_mode": "HTML"}, "can't parse entities"},
		{"empty", map[string]any{"chat_id": -100, "message_id": 1, "text": ""}, "message text is empty"},
	} {
		a := post(t, edit, tt.body)
		require.Equal(t, 400, a.status, tt.name)
		require.Contains(t, a.body["description"], tt.desc, tt.name)
	}
	msgs := s.Messages()
	require.Len(t, msgs, 1, "an edit is not a new message")
	require.Equal(t, "<b>alert</b>", msgs[0].Text)
	require.Equal(t, "✅ <b>alert</b>", msgs[0].EditedText)

	require.True(t, s.Delete("-100", 1))
	require.Equal(t, EditNotFound, post(t, edit, map[string]any{"chat_id": -100, "message_id": 1, "text": "z"}).body["description"])
	require.Equal(t, 8, s.Requests())
}

func TestMigrateToChatID(t *testing.T) {
	s := New(t, token)
	s.Enqueue(Response{Status: 400, Description: ChatMigrated, MigrateToChatID: -100999})
	a := post(t, s.URL()+"/bot"+token+"/sendMessage", map[string]any{"chat_id": -999, "text": "x"})
	require.Equal(t, 400, a.status)
	require.Equal(t, map[string]any{"migrate_to_chat_id": -100999.0}, a.body["parameters"])
}

func TestTLS(t *testing.T) {
	s := NewTLS(t, token)
	require.True(t, strings.HasPrefix(s.URL(), "https://127.0.0.1:"))
	require.NotNil(t, s.Certificate())
	// Transports without http.DefaultTransport's 10 s handshake timeout: on
	// a loaded machine the handshake may take longer, and the outcome of
	// the handshake is what is asserted.
	untrusting := &http.Client{Transport: &http.Transport{}}
	_, err := untrusting.Post(s.URL()+"/bot"+token+"/sendMessage", "application/json", strings.NewReader(`{"chat_id":1,"text":"x"}`))
	require.ErrorContains(t, err, "certificate", "a client that does not trust the certificate is refused")
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Post(s.URL()+"/bot"+token+"/sendMessage", "application/json", strings.NewReader(`{"chat_id":1,"text":"x"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Len(t, s.Messages(), 1)
}

// A late answer: the message is sent at once, the client that gave up sees
// nothing, and the message stays sent.
func TestAnswerDelayAcceptsFirst(t *testing.T) {
	s := New(t, token)
	s.Enqueue(Response{AnswerDelay: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	raw, err := json.Marshal(map[string]any{"chat_id": 5, "text": "late"})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/bot"+token+"/sendMessage", bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	failed := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		failed <- err
	}()
	require.Eventually(t, func() bool { return len(s.Messages()) == 1 }, 30*time.Second, 5*time.Millisecond)
	cancel()
	require.Error(t, <-failed)
	require.Equal(t, "late", s.Messages()[0].Text)
}

// A cut-off answer: status 200 and the whole body's length, half a body.
func TestCutBodyAcceptsFirst(t *testing.T) {
	s := New(t, token)
	s.Enqueue(Response{CutBody: true})
	resp, err := http.Post(s.URL()+"/bot"+token+"/sendMessage", "application/json", strings.NewReader(`{"chat_id":5,"text":"cut"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, err = io.ReadAll(resp.Body)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Len(t, s.Messages(), 1)
	require.Equal(t, true, post(t, s.URL()+"/bot"+token+"/sendMessage", map[string]any{"chat_id": 5, "text": "next"}).body["ok"],
		"the next request is answered whole")
}

// A migrated group refuses every request with the supergroup's id; the
// supergroup is a chat of its own.
func TestMigrate(t *testing.T) {
	s := New(t, token)
	url := s.URL() + "/bot" + token + "/sendMessage"
	require.Equal(t, http.StatusOK, post(t, url, map[string]any{"chat_id": -42, "text": "before"}).status)
	s.Migrate("-42", -10042)
	a := post(t, url, map[string]any{"chat_id": -42, "text": "after"})
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Equal(t, ChatMigrated, a.body["description"])
	require.Equal(t, float64(-10042), a.body["parameters"].(map[string]any)["migrate_to_chat_id"])
	a = post(t, url, map[string]any{"chat_id": -10042, "text": "after"})
	require.Equal(t, float64(1), a.body["result"].(map[string]any)["message_id"])
	a = post(t, s.URL()+"/bot"+token+"/editMessageText", map[string]any{"chat_id": -42, "message_id": 1, "text": "edited"})
	require.Equal(t, ChatMigrated, a.body["description"])
}
