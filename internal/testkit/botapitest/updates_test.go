package botapitest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const chatID = "-1001"

func sendWithButtons(t *testing.T, s *Server, data string) int64 {
	t.Helper()
	a := post(t, s.URL()+"/bot"+token+"/sendMessage", map[string]any{
		"chat_id": chatID, "text": "alert",
		"reply_markup": map[string]any{"inline_keyboard": [][]map[string]any{{{"text": "Ack", "callback_data": data}}}},
	})
	require.Equal(t, http.StatusOK, a.status, a.body)
	return int64(a.body["result"].(map[string]any)["message_id"].(float64))
}

func TestInlineKeyboardValidated(t *testing.T) {
	s := New(t, token)
	id := sendWithButtons(t, s, "a:0123456789abcdef")
	require.Equal(t, [][]Button{{{Text: "Ack", CallbackData: "a:0123456789abcdef"}}}, s.Messages()[0].Keyboard)
	require.Equal(t, int64(1), id)

	for name, button := range map[string]map[string]any{
		"data too long":   {"text": "x", "callback_data": string(make([]byte, 65))},
		"data empty":      {"text": "x", "callback_data": ""},
		"no action":       {"text": "x"},
		"two actions":     {"text": "x", "callback_data": "a", "url": "https://example.org"},
		"no text":         {"callback_data": "a"},
		"unknown field":   {"text": "x", "callback_data": "a", "callbackdata": "b"},
		"url not http(s)": {"text": "x", "url": "tg://x"},
	} {
		a := post(t, s.URL()+"/bot"+token+"/sendMessage", map[string]any{
			"chat_id": chatID, "text": "alert",
			"reply_markup": map[string]any{"inline_keyboard": [][]map[string]any{{button}}},
		})
		require.Equal(t, http.StatusBadRequest, a.status, name)
	}
	require.Len(t, s.Messages(), 1)
}

func TestGetUpdatesLongPollAndOffset(t *testing.T) {
	s := New(t, token)
	msg := sendWithButtons(t, s, "a:1")
	alice := User{ID: 42, Username: "alice"}

	got := make(chan answer, 1)
	go func() {
		got <- post(t, s.URL()+"/bot"+token+"/getUpdates", map[string]any{"timeout": 30, "allowed_updates": []string{"callback_query", "message"}})
	}()
	require.Eventually(t, func() bool { return len(s.Polls()) == 1 }, 30*time.Second, 10*time.Millisecond)
	select {
	case a := <-got:
		t.Fatalf("the long poll answered before an update came: %v", a.body)
	default:
	}
	qid, err := s.Press(chatID, msg, alice, "a:1")
	require.NoError(t, err)
	a := <-got
	require.Equal(t, http.StatusOK, a.status, a.body)
	ups := a.body["result"].([]any)
	require.Len(t, ups, 1)
	up := ups[0].(map[string]any)
	cq := up["callback_query"].(map[string]any)
	require.Equal(t, qid, cq["id"])
	require.Equal(t, "a:1", cq["data"])
	require.Equal(t, "alice", cq["from"].(map[string]any)["username"])
	require.Equal(t, []string{"callback_query", "message"}, s.Polls()[0].AllowedUpdates)
	require.Equal(t, 30, s.Polls()[0].Timeout)

	// Not confirmed: answered again; confirmed by offset: gone.
	a = post(t, s.URL()+"/bot"+token+"/getUpdates", map[string]any{"timeout": 0})
	require.Len(t, a.body["result"].([]any), 1)
	next := int64(up["update_id"].(float64)) + 1
	a = post(t, s.URL()+"/bot"+token+"/getUpdates", map[string]any{"offset": next, "timeout": 0})
	require.Empty(t, a.body["result"])
	require.Zero(t, s.PendingUpdates())

	_, err = s.Press(chatID, msg, alice, "s:other")
	require.Error(t, err, "no such button")

	s.Type(chatID, alice, "/status@procblocking_bot")
	a = post(t, s.URL()+"/bot"+token+"/getUpdates", map[string]any{"offset": next, "timeout": 0})
	m := a.body["result"].([]any)[0].(map[string]any)["message"].(map[string]any)
	require.Equal(t, "/status@procblocking_bot", m["text"])
	require.Equal(t, "bot_command", m["entities"].([]any)[0].(map[string]any)["type"])
}

func TestAnswerCallbackQuery(t *testing.T) {
	s := New(t, token)
	msg := sendWithButtons(t, s, "a:1")
	qid, err := s.Press(chatID, msg, User{ID: 7}, "a:1")
	require.NoError(t, err)
	url := s.URL() + "/bot" + token + "/answerCallbackQuery"

	a := post(t, url, map[string]any{"callback_query_id": qid, "text": string(make([]rune, MaxCallbackRunes+1))})
	require.Equal(t, http.StatusBadRequest, a.status)
	a = post(t, url, map[string]any{"callback_query_id": qid, "text": "Not allowed"})
	require.Equal(t, http.StatusOK, a.status, a.body)
	a = post(t, url, map[string]any{"callback_query_id": qid, "text": "again"})
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Equal(t, QueryInvalid, a.body["description"])
	a = post(t, url, map[string]any{"callback_query_id": "999"})
	require.Equal(t, QueryInvalid, a.body["description"])
	require.Equal(t, []CallbackAnswer{{QueryID: qid, Text: "Not allowed"}}, s.CallbackAnswers())
}

func TestEditMessageReplyMarkup(t *testing.T) {
	s := New(t, token)
	msg := sendWithButtons(t, s, "a:1")
	url := s.URL() + "/bot" + token + "/editMessageReplyMarkup"
	a := post(t, url, map[string]any{"chat_id": chatID, "message_id": msg,
		"reply_markup": map[string]any{"inline_keyboard": [][]map[string]any{{{"text": "Ack", "callback_data": "a:1"}}}}})
	require.Equal(t, NotModified, a.body["description"])
	a = post(t, url, map[string]any{"chat_id": chatID, "message_id": msg})
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Nil(t, s.Messages()[0].Keyboard)
	require.Equal(t, 1, s.Messages()[0].Edits)
	a = post(t, url, map[string]any{"chat_id": chatID, "message_id": msg})
	require.Equal(t, NotModified, a.body["description"])
	a = post(t, url, map[string]any{"chat_id": chatID, "message_id": msg + 1})
	require.Equal(t, EditNotFound, a.body["description"])

	// editMessageText without reply_markup drops the keyboard too.
	msg = sendWithButtons(t, s, "a:2")
	a = post(t, s.URL()+"/bot"+token+"/editMessageText", map[string]any{"chat_id": chatID, "message_id": msg, "text": "alert"})
	require.Equal(t, http.StatusOK, a.status, "same text, keyboard removed: a change")
	require.Nil(t, s.Messages()[1].Keyboard)
}

func TestWebhookAndOverlappingPollsConflict(t *testing.T) {
	s := New(t, token)
	base := s.URL() + "/bot" + token + "/"

	first := make(chan answer, 1)
	go func() { first <- post(t, base+"getUpdates", map[string]any{"timeout": 50}) }()
	require.Eventually(t, func() bool { return len(s.Polls()) == 1 }, 30*time.Second, 10*time.Millisecond)
	second := make(chan answer, 1)
	go func() { second <- post(t, base+"getUpdates", map[string]any{"timeout": 50}) }()
	a := <-first
	require.Equal(t, http.StatusConflict, a.status)
	require.Equal(t, PollTerminated, a.body["description"])

	a = post(t, base+"setWebhook", map[string]any{"url": "http://insecure"})
	require.Equal(t, http.StatusBadRequest, a.status)
	a = post(t, base+"setWebhook", map[string]any{"url": "https://hook.example.org/x"})
	require.Equal(t, http.StatusOK, a.status, a.body)
	a = <-second
	require.Equal(t, http.StatusConflict, a.status, "the webhook ends the waiting poll")
	a = post(t, base+"getUpdates", map[string]any{"timeout": 1})
	require.Equal(t, http.StatusConflict, a.status)
	require.Equal(t, WebhookActive, a.body["description"])
	a = post(t, base+"getWebhookInfo", nil)
	require.Equal(t, "https://hook.example.org/x", a.body["result"].(map[string]any)["url"])
	require.Zero(t, s.WebhookDeletes())
}

func TestPollEndsWithClient(t *testing.T) {
	s := New(t, token)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/bot"+token+"/getUpdates", strings.NewReader(`{"timeout":50}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
	}()
	require.Eventually(t, func() bool { return len(s.Polls()) == 1 }, 30*time.Second, 10*time.Millisecond)
	cancel()
	<-done
	s.Close()
}
