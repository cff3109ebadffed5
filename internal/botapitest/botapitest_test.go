package botapitest

import (
	"bytes"
	"context"
	"encoding/json"
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
	require.Equal(t, []Message{{
		ChatID: "-100123", Text: "<b>hi</b> &amp; bye", ParseMode: "HTML",
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
		{"unknown method", "/bot" + token + "/getMe", map[string]any{}, 404, "Not Found"},
		{"no chat", "", map[string]any{"text": "x"}, 400, "chat_id is empty"},
		{"no text", "", map[string]any{"chat_id": 1}, 400, "message text is empty"},
		{"blank text", "", map[string]any{"chat_id": 1, "text": " \n"}, 400, "message text is empty"},
		{"too long", "", map[string]any{"chat_id": 1, "text": long}, 400, "message is too long"},
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
	require.Equal(t, []Message{{ChatID: "@chan", Text: "x"}}, s.Messages())
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
