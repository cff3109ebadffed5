package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

const (
	actionsChat   = "-100123" // watchdog.env's TELEGRAM_CHAT_ID
	allowedUserID = 1001
	strangerID    = 6666
	// actionsPoll is the long poll of the test's input: the longest
	// Telegram holds, so that a loop of short polls cannot pass for it.
	actionsPoll = 50 * time.Second
)

// actionsConfig is the shipped agent and Telegram output with buttons,
// inputs.telegram_actions polling the fake, and the alert events and the
// actions written to a file.
func actionsConfig(t *testing.T, w *watchdog) string {
	t.Helper()
	agent := shippedTable(t, "[agent]", w.root, map[string]string{`interval`: `"1s"`})
	tg := shippedTable(t, "[[outputs.telegram]]", w.root, map[string]string{`api_url`: fmt.Sprintf("%q", w.tgURL), `buttons`: "true"})
	conf := fmt.Sprintf(`%s
[[inputs.procblocking]]
  patterns = [%q]

[[inputs.telegram_actions]]
  token = "${TELEGRAM_BOT_TOKEN}"
  chat_id = "${TELEGRAM_CHAT_ID}"
  allowed_users = [%d]
  api_url = %q
  poll_timeout = %q
  offset_file = %q

%s
%s
[[outputs.file]]
  namepass = ["procblocking_alert", "procblocking_scan", "procblocking_action"]
  files = [%q]
  data_format = "influx"
  flush_interval = "1s"
`, agent, w.marker, allowedUserID, w.tgURL, actionsPoll.String(), filepath.Join(w.root, "telegram_actions.json"),
		alertStateTable(w.threshold, w.cooldown, filepath.Join(w.root, "alertstate.json")), tg, w.metrics)
	path := filepath.Join(t.TempDir(), "telegraf.conf")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
	return path
}

// actions returns the procblocking_action metrics in the file.
func actions(t *testing.T, path string) []telegraf.Metric {
	t.Helper()
	var out []telegraf.Metric
	for _, m := range readMetrics(t, path) {
		if m.Name() == "procblocking_action" {
			out = append(out, m)
		}
	}
	return out
}

// button returns the callback data of the button of msg whose text starts
// with prefix.
func button(t *testing.T, msg botapitest.Message, prefix string) string {
	t.Helper()
	for _, row := range msg.Keyboard {
		for _, b := range row {
			if strings.HasPrefix(b.Text, prefix) {
				return b.CallbackData
			}
		}
	}
	t.Fatalf("no button %q under the message: %+v", prefix, msg.Keyboard)
	return ""
}

// longPollsOnly checks that every poll since the first start's skip of the
// backlog waited actionsPoll, and that there were no more of them than
// long polls allow in elapsed time: one per restart, per update batch and
// per actionsPoll, not a loop.
func longPollsOnly(t *testing.T, tg *botapitest.Server, elapsed time.Duration, starts, updates int) {
	t.Helper()
	polls := tg.Polls()
	require.Equal(t, 0, polls[0].Timeout, "the first start skips the backlog without waiting")
	for i, p := range polls[1:] {
		require.Equal(t, int(actionsPoll/time.Second), p.Timeout, "poll %d", i+1)
		require.Equal(t, []string{"message", "callback_query"}, p.AllowedUpdates)
	}
	bound := 1 + 2*starts + updates + int(elapsed/actionsPoll)
	require.LessOrEqual(t, len(polls), bound, "%d getUpdates in %s: a loop, not a long poll", len(polls), elapsed)
}

// TestActOnAnAlertFromTheChat: the alert carries buttons; a stranger's
// press is answered "not allowed" and changes nothing (the realert comes);
// an allowed Snooze is answered, edits the alert with who and until when,
// and holds realerts for several cooldowns, also across a SIGKILL of the
// agent, after which no press is replayed; /status lists the job; the
// recovery comes once and takes the buttons away; every press is a
// procblocking_action metric; the poll is a long poll.
func TestActOnAnAlertFromTheChat(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t, "telegraf-procblocking")
	tg := botapitest.New(t, e2eToken)
	marker := newMarker("chatact")
	w := newWatchdog(t, marker, tg.URL())
	w.cooldown = "2s"
	conf := actionsConfig(t, w)
	begin := time.Now()

	orphan := startOrphan(t, marker)
	pid := strconv.Itoa(orphan.PID)
	agent := proctest.Start(t, w.env(), bin, "--config", conf)
	running := func() {
		require.False(t, agent.Exited(), "agent exited: %v\n%s", agent.Err(), agent.Stderr.String())
	}
	waitFor(t, "the alert with its buttons", func() bool {
		running()
		msgs := tg.Messages()
		return len(msgs) > 0 && botapitest.EventKind(msgs[0].Text) == "alert" && msgs[0].Keyboard != nil
	})
	alert := tg.Messages()[0]
	require.Contains(t, alert.Text, pid)
	snooze4h := button(t, alert, "🔕 4")
	waitFor(t, "the input's long poll", func() bool { return len(tg.Polls()) >= 2 })

	// A stranger's press: answered, and the realerts go on.
	_, err := tg.Press(actionsChat, alert.MessageID, botapitest.User{ID: strangerID, Username: "mallet"}, snooze4h)
	require.NoError(t, err)
	waitFor(t, "the stranger's press answered", func() bool { return len(tg.CallbackAnswers()) == 1 })
	require.Equal(t, fmt.Sprintf("⛔ Not allowed (your user id: %d)", strangerID), tg.CallbackAnswers()[0].Text)
	realerts := len(events(t, w.metrics, "realert"))
	waitFor(t, "a realert after the stranger's press", func() bool {
		running()
		return len(events(t, w.metrics, "realert")) > realerts && count(tg.Messages(), "realert") > 0
	})
	require.Zero(t, tg.Messages()[0].Edits, "the stranger's press edited the alert")

	// Alice snoozes: answered, the alert names her, and no realert comes.
	_, err = tg.Press(actionsChat, alert.MessageID, botapitest.User{ID: allowedUserID, Username: "alice"}, snooze4h)
	require.NoError(t, err)
	waitFor(t, "the snooze answered", func() bool { return len(tg.CallbackAnswers()) == 2 })
	require.True(t, strings.HasPrefix(tg.CallbackAnswers()[1].Text, "🔕 Snoozed until "), tg.CallbackAnswers()[1].Text)
	waitFor(t, "the alert edited", func() bool {
		running()
		return strings.Contains(tg.Messages()[0].EditedText, "🔕 Snoozed by @alice until ")
	})
	require.NotNil(t, tg.Messages()[0].Keyboard, "a snooze keeps the buttons")
	// The note is written after every event decided before the snooze (each
	// output keeps the order): from here on no realert may come.
	waitFor(t, "the snooze note in the file", func() bool { return len(events(t, w.metrics, "snooze")) == 1 })
	realerts = len(events(t, w.metrics, "realert"))
	delivered := count(tg.Messages(), "realert")
	awaitScans(t, w.metrics, 6) // three cooldowns
	require.Equal(t, realerts, len(events(t, w.metrics, "realert")), "a realert while snoozed")

	// SIGKILL and restart: the snooze holds, and no press is handled again.
	agent.Kill(t)
	agent = proctest.Start(t, w.env(), bin, "--config", conf)
	awaitScans(t, w.metrics, 6)
	running()
	require.Equal(t, realerts, len(events(t, w.metrics, "realert")), "a realert while snoozed, after the restart")
	require.Equal(t, delivered, count(tg.Messages(), "realert"))
	require.Len(t, tg.CallbackAnswers(), 2, "a press answered again after the restart")
	require.Len(t, events(t, w.metrics, "snooze"), 1, "the snooze applied again after the restart")

	// /status, addressed to the bot as privacy mode in a group requires.
	tg.Type(actionsChat, botapitest.User{ID: allowedUserID, Username: "alice"}, "/status@"+botapitest.BotUsername)
	waitFor(t, "the /status answer", func() bool {
		running()
		for _, m := range tg.Messages() {
			if strings.HasPrefix(m.Text, "<b>📋 Stuck jobs: 1</b>") {
				return true
			}
		}
		return false
	})
	var status string
	for _, m := range tg.Messages() {
		if strings.HasPrefix(m.Text, "<b>📋") {
			status = m.Text
		}
	}
	require.Contains(t, status, "• PID "+pid+", ")
	require.Contains(t, status, "python3 -m pytest tests/test_"+marker+".py")
	require.Contains(t, status, "🔕 snoozed by @alice until ")

	// The recovery comes once, replying to the alert, and the buttons go.
	orphan.kill(t)
	waitFor(t, "the recovery", func() bool { running(); return count(tg.Messages(), "recovery") == 1 })
	awaitScans(t, w.metrics, 3)
	msgs := tg.Messages()
	require.Equal(t, 1, count(msgs, "recovery"))
	require.Equal(t, alert.MessageID, msgs[len(msgs)-1].ReplyTo)
	waitFor(t, "the buttons removed", func() bool { return tg.Messages()[0].Keyboard == nil })
	require.Len(t, events(t, w.metrics, "recovery"), 1)

	// Each press and the command are metrics: the audit trail.
	waitFor(t, "the actions in the file", func() bool { return len(actions(t, w.metrics)) == 3 })
	acts := actions(t, w.metrics)
	for i, want := range []struct {
		action  string
		user    int64
		allowed bool
	}{{"snooze", strangerID, false}, {"snooze", allowedUserID, true}, {"status", allowedUserID, true}} {
		require.Equal(t, want.action, acts[i].Tags()["action"], "action %d", i)
		require.Equal(t, want.user, acts[i].Fields()["user_id"], "action %d", i)
		require.Equal(t, want.allowed, acts[i].Fields()["allowed"], "action %d", i)
	}
	require.Equal(t, int64(4*3600), acts[1].Fields()["snooze_seconds"])
	require.Equal(t, events(t, w.metrics, "alert")[0].Fields()["alert_id"], acts[1].Fields()["alert_id"])

	longPollsOnly(t, tg, time.Since(begin), 2, 3)
	require.Zero(t, tg.WebhookDeletes())
	require.NotContains(t, agent.Stderr.String(), e2eToken)
}

// TestChatActionsStartRefusals: a webhook on the bot, or a second poller
// of the bot in one agent, stop the start with an error that says what to
// do; the webhook is never deleted.
func TestChatActionsStartRefusals(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t, "telegraf-procblocking")
	tg := botapitest.New(t, e2eToken)
	w := newWatchdog(t, newMarker("chatrefuse"), tg.URL())
	conf := actionsConfig(t, w)

	// Two pollers of one bot in one agent.
	data, err := os.ReadFile(conf)
	require.NoError(t, err)
	second := fmt.Sprintf("\n[[inputs.telegram_actions]]\n  token = \"${TELEGRAM_BOT_TOKEN}\"\n  chat_id = \"${TELEGRAM_CHAT_ID}\"\n  allowed_users = [1]\n  api_url = %q\n  offset_file = %q\n",
		tg.URL(), filepath.Join(w.root, "second.json"))
	twice := filepath.Join(t.TempDir(), "twice.conf")
	require.NoError(t, os.WriteFile(twice, append(data, second...), 0o600))
	agent := proctest.Start(t, w.env(), bin, "--config", twice)
	require.Error(t, agent.Wait(t, 60*time.Second))
	require.Contains(t, agent.Stderr.String(), "a second [[inputs.telegram_actions]] for bot 123456 in this agent")

	// A webhook.
	resp, err := tg.Client().Post(tg.URL()+"/bot"+e2eToken+"/setWebhook", "application/json",
		strings.NewReader(`{"url":"https://hooks.example.org/private-path"}`))
	require.NoError(t, err)
	resp.Body.Close()
	agent = proctest.Start(t, w.env(), bin, "--config", conf)
	require.Error(t, agent.Wait(t, 60*time.Second))
	log := agent.Stderr.String()
	require.Contains(t, log, "the bot has a webhook set (https://hooks.example.org/...)")
	require.Contains(t, log, "deleteWebhook (this plugin never removes it)")
	require.NotContains(t, log, "private-path")
	require.NotContains(t, log, e2eToken)
	require.Zero(t, tg.WebhookDeletes())
}
