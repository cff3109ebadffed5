package telegram

import (
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/chatactions"
)

func withButtons(t *Telegram) { t.Buttons = true }

// noteEvent is alertstate's note for the job of alertEvent(…, n).
func noteEvent(kind, text string, n int) telegraf.Metric {
	return metric.New("procblocking_alert",
		map[string]string{"event": kind, "pid": "4001", "host": "ci-7"},
		map[string]interface{}{"message": text, "count": int64(1), "alert_id": alertID(n)},
		time.Unix(1_700_000_100+int64(len(text)), 0))
}

func TestAlertCarriesButtons(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL(), withButtons)
	queueWrite(t, p, []telegraf.Metric{alertEvent("alert", "🚨 Blocking process on ci-7\nPID 4001", 1)})
	msgs := waitMessages(t, srv, 1)
	kb := msgs[0].Keyboard
	require.Len(t, kb, 2)
	require.Equal(t, "✔ Ack", kb[0][0].Text)
	require.Equal(t, []string{"🔕 1h", "🔕 4h", "🔕 24h"}, []string{kb[1][0].Text, kb[1][1].Text, kb[1][2].Text})
	for _, row := range kb {
		for _, b := range row {
			press, err := chatactions.Parse(b.CallbackData)
			require.NoError(t, err)
			require.Equal(t, alertID(1), press.AlertID)
		}
	}
	// A realert replying to the alert leaves the buttons there; one whose
	// alert is not known starts the thread, with buttons.
	queueWrite(t, p, []telegraf.Metric{alertEvent("realert", "🔁 still running", 1), alertEvent("realert", "🔁 other job", 2)})
	msgs = waitMessages(t, srv, 3)
	require.Equal(t, int64(1), msgs[1].ReplyTo)
	require.Nil(t, msgs[1].Keyboard)
	require.NotNil(t, msgs[2].Keyboard)
}

func TestNotesEditTheAlert(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL(), withButtons, func(t *Telegram) { t.Language = "ru" })
	queueWrite(t, p, []telegraf.Metric{alertEvent("alert", "🚨 Зависший процесс на ci-7\nPID 4001", 1)})
	waitMessages(t, srv, 1)

	queueWrite(t, p, []telegraf.Metric{noteEvent("snooze", "🔕 Отложено: @alice, до 14:30", 1)})
	require.Eventually(t, func() bool { return srv.Messages()[0].Edits == 1 }, 30*time.Second, 5*time.Millisecond)
	m := srv.Messages()[0]
	require.Equal(t, "<b>🚨 Зависший процесс на ci-7</b>\nPID 4001\n\n🔕 Отложено: @alice, до 14:30", m.EditedText)
	require.Equal(t, "✔ Принято", m.Keyboard[0][0].Text, "a snooze keeps the buttons")

	queueWrite(t, p, []telegraf.Metric{noteEvent("ack", "✔ Принято: @bob, повторов больше не будет", 1)})
	require.Eventually(t, func() bool { return srv.Messages()[0].Edits == 2 }, 30*time.Second, 5*time.Millisecond)
	m = srv.Messages()[0]
	require.Equal(t, "<b>🚨 Зависший процесс на ci-7</b>\nPID 4001\n\n✔ Принято: @bob, повторов больше не будет", m.EditedText,
		"the later note replaces the earlier")
	require.Nil(t, m.Keyboard, "an ack removes the buttons")

	// The recovery still replies to the alert.
	queueWrite(t, p, []telegraf.Metric{alertEvent("recovery", "✅ recovered", 1)})
	msgs := waitMessages(t, srv, 2)
	require.Equal(t, int64(1), msgs[1].ReplyTo)
	require.Len(t, srv.Messages(), 2, "notes are edits, not messages")
}

func TestRecoveryRemovesTheButtons(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL(), withButtons)
	queueWrite(t, p, []telegraf.Metric{alertEvent("alert", "🚨 alert", 1), alertEvent("alert", "🚨 other", 2)})
	waitMessages(t, srv, 2)
	queueWrite(t, p, []telegraf.Metric{alertEvent("recovery", "✅ recovered", 1)})
	waitMessages(t, srv, 3)
	require.Eventually(t, func() bool { return srv.Messages()[0].Keyboard == nil }, 30*time.Second, 5*time.Millisecond)
	require.NotNil(t, srv.Messages()[1].Keyboard, "only the recovered job's")
	require.Nil(t, srv.Messages()[2].Keyboard, "a recovery has no buttons")
}

func TestNoteOfAnUnknownAlertIsSentAlone(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL(), withButtons)
	queueWrite(t, p, []telegraf.Metric{noteEvent("ack", "✔ Acknowledged by @alice: no more reminders", 9)})
	msgs := waitMessages(t, srv, 1)
	require.Equal(t, "<b>✔ Acknowledged by @alice: no more reminders</b>", msgs[0].Text)
	require.True(t, msgs[0].DisableNotification)
}

func TestButtonsOff(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	queueWrite(t, p, []telegraf.Metric{alertEvent("alert", "🚨 alert", 1)})
	require.Nil(t, waitMessages(t, srv, 1)[0].Keyboard)
}

func TestLanguageRefused(t *testing.T) {
	p := basePlugin("https://api.telegram.org")
	p.Language = "de"
	require.ErrorContains(t, p.Init(), `invalid 'language' "de": want "en" or "ru"`)
}

// With edit_alert_on_recovery, marking the alert resolved keeps the note of
// who snoozed it: the thread records the note with the alert's text.
func TestResolvedAlertKeepsItsNote(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL(), withButtons, func(t *Telegram) { t.EditAlertOnRecovery = true })
	queueWrite(t, p, []telegraf.Metric{alertEvent("alert", "🚨 Blocking process on ci-7\nPID 4001", 1)})
	waitMessages(t, srv, 1)
	queueWrite(t, p, []telegraf.Metric{noteEvent("snooze", "🔕 Snoozed by @alice until 14:30", 1)})
	require.Eventually(t, func() bool { return srv.Messages()[0].Edits == 1 }, 30*time.Second, 5*time.Millisecond)

	queueWrite(t, p, []telegraf.Metric{alertEvent("recovery", "✅ recovered", 1)})
	waitMessages(t, srv, 2)
	require.Eventually(t, func() bool { return srv.Messages()[0].Edits == 2 }, 30*time.Second, 5*time.Millisecond)
	m := srv.Messages()[0]
	require.Equal(t, "<b>"+resolvedMark+"🚨 Blocking process on ci-7</b>\nPID 4001\n\n🔕 Snoozed by @alice until 14:30", m.EditedText)
	require.Nil(t, m.Keyboard, "nothing is left to act on")
}

// The answer to /status replies to the command, whether or not messages are
// threaded.
func TestStatusAnswerRepliesToTheCommand(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL(), withButtons, func(t *Telegram) { t.ThreadReplies = false })
	queueWrite(t, p, []telegraf.Metric{alertEvent("alert", "🚨 Blocking process on ci-7\nPID 4001", 1)})
	command := waitMessages(t, srv, 1)[0].MessageID
	status := metric.New("procblocking_alert", map[string]string{"event": "status"},
		map[string]interface{}{"message": "📋 Stuck jobs: 1", "count": int64(1), "request_message_id": command},
		time.Unix(1_700_000_200, 0))
	queueWrite(t, p, []telegraf.Metric{status})
	msgs := waitMessages(t, srv, 2)
	require.Equal(t, "<b>📋 Stuck jobs: 1</b>", msgs[1].Text)
	require.Equal(t, command, msgs[1].ReplyTo)
}
