package telegram_actions

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/chatactions"
	"github.com/procblocking/procblocking/internal/testkit/botapitest"
)

const (
	token  = "4242:SECRET-token_value"
	chatID = "-100777"
	alice  = 1001
	mallet = 6666
)

func newInput(t *testing.T, srv *botapitest.Server, offsetFile string) *TelegramActions {
	t.Helper()
	in := &TelegramActions{
		Token:        config.NewSecret([]byte(token)),
		ChatID:       chatID,
		AllowedUsers: []int64{alice},
		Language:     "en",
		PollTimeout:  config.Duration(30 * time.Second),
		Timeout:      config.Duration(10 * time.Second),
		OffsetFile:   offsetFile,
		APIURL:       srv.URL(),
		Log:          testutil.Logger{},
	}
	require.NoError(t, in.Init())
	return in
}

// alertWithButtons sends, as outputs.telegram would, an alert with its
// buttons and returns its message_id.
func alertWithButtons(t *testing.T, srv *botapitest.Server, alertID string) int64 {
	t.Helper()
	row := []map[string]string{{"text": "Ack", "callback_data": chatactions.Press{Action: chatactions.Ack, AlertID: alertID}.Data()}}
	for _, d := range chatactions.SnoozeChoices {
		row = append(row, map[string]string{"text": d.String(), "callback_data": chatactions.Press{Action: chatactions.Snooze, AlertID: alertID, For: d}.Data()})
	}
	body, err := json.Marshal(map[string]any{"chat_id": chatID, "text": "🚨 alert", "reply_markup": map[string]any{"inline_keyboard": [][]map[string]string{row}}})
	require.NoError(t, err)
	resp, err := srv.Client().Post(srv.URL()+"/bot"+token+"/sendMessage", "application/json", strings.NewReader(string(body)))
	require.NoError(t, err)
	defer resp.Body.Close()
	var ans struct {
		Result struct {
			MessageID int64 `json:"message_id"`
		} `json:"result"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&ans))
	require.NotZero(t, ans.Result.MessageID)
	return ans.Result.MessageID
}

func waitPolls(t *testing.T, srv *botapitest.Server, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(srv.Polls()) >= n }, 60*time.Second, 10*time.Millisecond, "waiting for getUpdates #%d", n)
}

func TestPressesAnsweredAndEmitted(t *testing.T) {
	srv := botapitest.New(t, token)
	offsetFile := filepath.Join(t.TempDir(), "offset.json")
	in := newInput(t, srv, offsetFile)
	var acc testutil.Accumulator
	require.NoError(t, in.Start(&acc))
	defer in.Stop()
	msg := alertWithButtons(t, srv, "0123456789abcdef")
	waitPolls(t, srv, 2) // the backlog skipped, then the long poll

	snooze := chatactions.Press{Action: chatactions.Snooze, AlertID: "0123456789abcdef", For: 4 * time.Hour}.Data()
	q1, err := srv.Press(chatID, msg, botapitest.User{ID: mallet, Username: "mallet"}, snooze)
	require.NoError(t, err)
	q2, err := srv.Press(chatID, msg, botapitest.User{ID: alice, Username: "alice"}, snooze)
	require.NoError(t, err)
	srv.Type(chatID, botapitest.User{ID: alice, Username: "alice"}, "/status@"+botapitest.BotUsername)
	srv.Type(chatID, botapitest.User{ID: alice, Username: "alice"}, "/status@some_other_bot")
	srv.Type("-100999", botapitest.User{ID: alice, Username: "alice"}, "/status")
	acc.Wait(3)

	answers := srv.CallbackAnswers()
	require.Len(t, answers, 2)
	require.Equal(t, q1, answers[0].QueryID)
	require.Equal(t, "⛔ Not allowed (your user id: 6666)", answers[0].Text)
	require.Equal(t, q2, answers[1].QueryID)
	require.True(t, strings.HasPrefix(answers[1].Text, "🔕 Snoozed until "), answers[1].Text)

	ms := acc.GetTelegrafMetrics()
	require.Equal(t, "snooze", ms[0].Tags()["action"])
	require.Equal(t, map[string]any{"user_id": int64(mallet), "username": "mallet", "allowed": false, "alert_id": "0123456789abcdef",
		"message_id": msg, "snooze_seconds": int64(4 * 3600), "until": ms[0].Fields()["until"]}, ms[0].Fields())
	require.InDelta(t, time.Now().Add(4*time.Hour).Unix(), ms[1].Fields()["until"], 120)
	require.Equal(t, true, ms[1].Fields()["allowed"])
	require.Equal(t, "status", ms[2].Tags()["action"])

	// Everything polled since is confirmed, and the offset is on disk.
	require.Eventually(t, func() bool { return srv.PendingUpdates() == 0 }, 60*time.Second, 10*time.Millisecond)
	polls := srv.Polls()
	last := polls[len(polls)-1]
	require.Equal(t, 30, last.Timeout, "a long poll")
	require.Equal(t, []string{"message", "callback_query"}, last.AllowedUpdates)
	data, err := os.ReadFile(offsetFile)
	require.NoError(t, err)
	require.Contains(t, string(data), `"offset":`)
	in.Stop()
	require.Len(t, acc.GetTelegrafMetrics(), 3, "other bots' commands and other chats are ignored")
}

func TestRestartDoesNotReplay(t *testing.T) {
	srv := botapitest.New(t, token)
	offsetFile := filepath.Join(t.TempDir(), "offset.json")
	msg := alertWithButtons(t, srv, "0123456789abcdef")
	ack := chatactions.Press{Action: chatactions.Ack, AlertID: "0123456789abcdef"}.Data()
	// Pressed before the first start: from before any state, skipped.
	_, err := srv.Press(chatID, msg, botapitest.User{ID: alice}, ack)
	require.NoError(t, err)

	in := newInput(t, srv, offsetFile)
	var acc testutil.Accumulator
	require.NoError(t, in.Start(&acc))
	waitPolls(t, srv, 2)
	_, err = srv.Press(chatID, msg, botapitest.User{ID: alice}, ack)
	require.NoError(t, err)
	acc.Wait(1)
	in.Stop()

	// Pressed while the agent is down: handled after the restart, once.
	_, err = srv.Press(chatID, msg, botapitest.User{ID: alice}, ack)
	require.NoError(t, err)
	in2 := newInput(t, srv, offsetFile)
	var acc2 testutil.Accumulator
	require.NoError(t, in2.Start(&acc2))
	defer in2.Stop()
	acc2.Wait(1)
	n := len(srv.Polls())
	waitPolls(t, srv, n+1)
	require.Len(t, acc.GetTelegrafMetrics(), 1)
	require.Len(t, acc2.GetTelegrafMetrics(), 1)
}

func TestWebhookRefusedAndNeverDeleted(t *testing.T) {
	srv := botapitest.New(t, token)
	resp, err := srv.Client().Post(srv.URL()+"/bot"+token+"/setWebhook", "application/json", strings.NewReader(`{"url":"https://hooks.example.org/secret-path"}`))
	require.NoError(t, err)
	resp.Body.Close()
	in := newInput(t, srv, filepath.Join(t.TempDir(), "offset.json"))
	var acc testutil.Accumulator
	err = in.Start(&acc)
	require.ErrorContains(t, err, "webhook set (https://hooks.example.org/...)")
	require.ErrorContains(t, err, "deleteWebhook")
	require.NotContains(t, err.Error(), "secret-path")
	require.NotContains(t, err.Error(), "SECRET")
	require.Zero(t, srv.WebhookDeletes())
	require.Empty(t, srv.Polls())
	// A failed start released the bot: a corrected start may claim it.
	release, err := claim("4242")
	require.NoError(t, err)
	release()
}

func TestSecondPollerRefused(t *testing.T) {
	srv := botapitest.New(t, token)
	dir := t.TempDir()
	first := newInput(t, srv, filepath.Join(dir, "a.json"))
	var acc testutil.Accumulator
	require.NoError(t, first.Start(&acc))
	defer first.Stop()
	second := newInput(t, srv, filepath.Join(dir, "b.json"))
	require.ErrorContains(t, second.Start(&acc), "a second [[inputs.telegram_actions]] for bot 4242")

	// Another process's poller with the same offset file: the lock refuses.
	_, err := openOffsetFile(filepath.Join(dir, "a.json"), testutil.Logger{})
	require.ErrorContains(t, err, "in use by another inputs.telegram_actions")
}

func TestInitRefuses(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		change func(*TelegramActions)
		want   string
	}{
		"no token":       {func(a *TelegramActions) { a.Token = config.NewSecret(nil) }, `invalid 'token' ""`},
		"chat":           {func(a *TelegramActions) { a.ChatID = "x y" }, `invalid 'chat_id' "x y"`},
		"no users":       {func(a *TelegramActions) { a.AllowedUsers = nil }, `invalid 'allowed_users' []`},
		"bad user":       {func(a *TelegramActions) { a.AllowedUsers = []int64{-5} }, `invalid 'allowed_users' entry "-5"`},
		"language":       {func(a *TelegramActions) { a.Language = "de" }, `invalid 'language' "de"`},
		"api_url":        {func(a *TelegramActions) { a.APIURL = "ftp://x" }, `invalid 'api_url' "ftp://x"`},
		"poll_timeout":   {func(a *TelegramActions) { a.PollTimeout = config.Duration(time.Minute) }, `invalid 'poll_timeout' "1m0s"`},
		"timeout":        {func(a *TelegramActions) { a.Timeout = 0 }, `invalid 'timeout' "0s"`},
		"response":       {func(a *TelegramActions) { a.ResponseHeaderTimeout = config.Duration(time.Second) }, `invalid 'response_timeout' "1s"`},
		"offset is dir":  {func(a *TelegramActions) { a.OffsetFile = dir }, "is a directory"},
		"proxy password": {func(a *TelegramActions) { a.HTTPProxyURL = "ftp://u:hunter2@p" }, `invalid 'http_proxy_url' "ftp://u:xxxxx@p"`},
		"tls":            {func(a *TelegramActions) { a.TLSCA = filepath.Join(dir, "missing.pem") }, "invalid TLS options"},
	} {
		t.Run(name, func(t *testing.T) {
			a := &TelegramActions{
				Token: config.NewSecret([]byte(token)), ChatID: chatID, AllowedUsers: []int64{1}, Language: "en",
				PollTimeout: config.Duration(50 * time.Second), Timeout: config.Duration(time.Second),
				OffsetFile: filepath.Join(dir, "o.json"), APIURL: "https://api.telegram.org", Log: testutil.Logger{},
			}
			require.NoError(t, a.Init())
			tc.change(a)
			require.ErrorContains(t, a.Init(), tc.want)
		})
	}
}

// A press made while the agent was down may be too old to answer when it
// comes back: Telegram refuses the answer, and the press still counts.
func TestLatePressStillApplied(t *testing.T) {
	srv := botapitest.New(t, token)
	offsetFile := filepath.Join(t.TempDir(), "offset.json")
	in := newInput(t, srv, offsetFile)
	var acc testutil.Accumulator
	require.NoError(t, in.Start(&acc))
	waitPolls(t, srv, 2)
	in.Stop()

	msg := alertWithButtons(t, srv, "0123456789abcdef")
	qid, err := srv.Press(chatID, msg, botapitest.User{ID: alice, Username: "alice"}, "ack:0123456789abcdef")
	require.NoError(t, err)
	srv.Expire(qid)
	in = newInput(t, srv, offsetFile)
	require.NoError(t, in.Start(&acc))
	defer in.Stop()
	acc.Wait(1)
	require.Empty(t, srv.CallbackAnswers(), "Telegram refused the late answer")
	m := acc.GetTelegrafMetrics()[0]
	require.Equal(t, "ack", m.Tags()["action"])
	require.Equal(t, true, m.Fields()["allowed"])
}
