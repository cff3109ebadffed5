package telegram

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/queue"
)

// The state directory deleted under the running output: the next write
// notices it, says so, makes the directory again with the whole queue in
// it, and takes the lock again.
func TestStateDirectoryDeletedIsRecreated(t *testing.T) {
	srv := newServer(t)
	srv.SetDefault(botapitest.Response{Status: 500})
	dir := filepath.Join(t.TempDir(), "telegram")
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.StateDirectory = dir })
	queueWrite(t, p, batch(2))
	require.NoError(t, os.RemoveAll(dir))

	queueWrite(t, p, batch(3)[2:])
	require.Equal(t, 1, p.log.count("E!", "was deleted (or replaced) while the output ran", "making the state directory again"), p.log.String())
	require.Equal(t, []string{"🚨 event 1", "🚨 event 2", "🚨 event 3"}, queuedInFile(t, filepath.Join(dir, "queue.log")), "a crash now loses nothing")

	second := basePlugin(srv.URL())
	second.StateDirectory = dir
	second.Log = &captureLogger{}
	require.NoError(t, second.Init())
	require.ErrorContains(t, second.Connect(), "in use by another outputs.telegram", "locked again")
	require.NoError(t, second.Close())

	srv.SetDefault(botapitest.Response{})
	require.Equal(t, alertTexts(1, 3), texts(waitMessages(t, srv, 3)))
}

// queuedInFile is the texts of the events the queue file at path holds, as
// the next start would load them: from a copy, so that the output running
// on path keeps its lock.
func queuedInFile(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "queue.log"), data, 0o600))
	state, q, err := queue.OpenDir(dir, &captureLogger{})
	require.NoError(t, err)
	defer state.Close()
	defer q.Close()
	var out []string
	for _, ev := range q.Head(q.Len()) {
		out = append(out, ev.Text)
	}
	return out
}

// A recovery queued behind its job's alert and realert that are not yet
// sent: they are dropped, so the chat never shows an alert after its job's
// recovery.
func TestRecoverySupersedesUnsentAlert(t *testing.T) {
	srv := newServer(t)
	srv.SetDefault(botapitest.Response{Status: 500})
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.StateDirectory = t.TempDir() })
	queueWrite(t, p, []telegraf.Metric{
		alertEvent("alert", "🚨 job 1", 1),
		alertEvent("alert", "🚨 job 2", 2),
		alertEvent("realert", "🔁 job 2", 2),
	})
	require.Eventually(t, func() bool { return srv.Requests() >= 2 }, 30*time.Second, 5*time.Millisecond)
	queueWrite(t, p, []telegraf.Metric{alertEvent("recovery", "✅ job 2", 2)})
	require.Equal(t, 1, p.log.count("I!", "Dropped 2 alert and realert event(s) not yet sent"), p.log.String())

	srv.SetDefault(botapitest.Response{})
	require.Equal(t, []string{"<b>🚨 job 1</b>", "<b>✅ job 2</b>"}, texts(waitMessages(t, srv, 2)))
	require.NoError(t, p.Close())
	require.Len(t, srv.Messages(), 2)
}

// A group upgraded to a supergroup: the upgrade is kept in the state
// directory, so that after a restart the job's realert still replies to
// its alert in the supergroup, and the log says once which chat_id to set.
func TestChatMigrationSurvivesRestart(t *testing.T) {
	srv := newServer(t)
	srv.Migrate("-4242", -1004242)
	dir := t.TempDir()
	opts := func(p *Telegram) { p.ChatID = "-4242"; p.StateDirectory = dir }
	p := newPlugin(t, srv.URL(), opts)
	queueWrite(t, p, []telegraf.Metric{alertEvent("alert", "🚨 one", 1)})
	waitMessages(t, srv, 1)
	require.NoError(t, p.Close())

	p2 := newPlugin(t, srv.URL(), opts)
	require.Equal(t, 1, p2.log.count("E!", `Chat "-4242" was upgraded to a supergroup with the id "-1004242"`, `set 'chat_id' = "-1004242"`), p2.log.String())
	queueWrite(t, p2, []telegraf.Metric{alertEvent("realert", "🔁 one", 1)})
	msgs := waitMessages(t, srv, 2)
	require.Equal(t, "-1004242", msgs[1].ChatID)
	require.Equal(t, msgs[0].MessageID, msgs[1].ReplyTo, "threaded after the restart")
	require.Equal(t, 3, srv.Requests(), "one refused request, before the upgrade was known")
	require.Equal(t, 1, p2.log.count("E!"), p2.log.String())
}

func TestStateDirectoryLocked(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.StateDirectory = dir })

	second := basePlugin(srv.URL())
	second.StateDirectory = dir
	second.Log = &captureLogger{}
	require.NoError(t, second.Init())
	err := second.Connect()
	require.ErrorContains(t, err, fmt.Sprintf("invalid 'state_directory' %q: in use by another outputs.telegram", dir))
	require.NoError(t, second.Close())

	require.NoError(t, p.Close())
	require.NoError(t, second.Connect(), "free again")
	require.NoError(t, second.Close())
}

// A state directory that cannot be created does not stop the alerts: the
// queue works from memory, and the log says what a crash would lose.
func TestStateDirectoryUnusable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	srv := newServer(t)
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.StateDirectory = filepath.Join(file, "telegram") })
	require.Equal(t, 1, p.log.count("E!", "Cannot use 'state_directory'", "a crash loses the events not yet delivered"), p.log.String())
	queueWrite(t, p, batch(2))
	require.Equal(t, alertTexts(1, 2), texts(waitMessages(t, srv, 2)))
}

// Close (at the end of --once, or when Telegraf stops) delivers what is
// queued while Telegram takes it; during an outage it stops at once rather
// than hold up the stop (or a reload) for close_timeout. What it cannot
// deliver stays in the state directory and goes out after the next start.
func TestCloseDeliversThenLeavesTheRestQueued(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.StateDirectory = dir })
	queueWrite(t, p, batch(3))
	require.NoError(t, p.Close())
	require.Equal(t, alertTexts(1, 3), texts(srv.Messages()), "delivered before Close returned")

	srv.SetDefault(botapitest.Response{Status: 502})
	p2 := newPlugin(t, srv.URL(), func(p *Telegram) {
		p.StateDirectory = dir
		p.CloseTimeout = config.Duration(time.Hour)
	})
	queueWrite(t, p2, batch(5)[3:])
	closed := make(chan error)
	go func() { closed <- p2.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Close waited out close_timeout while Telegram was down")
	}
	require.Equal(t, 1, p2.log.count("W!", "Stopping with 2 event(s) not delivered", "sent after the next start"), p2.log.String())

	srv.SetDefault(botapitest.Response{})
	p3 := newPlugin(t, srv.URL(), func(p *Telegram) { p.StateDirectory = dir })
	require.Equal(t, 1, p3.log.count("I!", "Resuming the delivery of 2 event(s)"), p3.log.String())
	require.Equal(t, alertTexts(1, 5), texts(waitMessages(t, srv, 5)))
}

// Telegram asks for an hour's wait (429): Close does not sit it out.
func TestCloseDuringLongRetryWait(t *testing.T) {
	srv := newServer(t)
	srv.SetDefault(botapitest.Response{Status: 429, RetryAfter: 3600})
	p := basePlugin(srv.URL())
	p.StateDirectory = t.TempDir()
	p.CloseTimeout = config.Duration(time.Hour)
	log := &captureLogger{}
	p.Log = log
	require.NoError(t, p.Init())
	require.NoError(t, p.Connect()) // the real clock
	queueWrite(t, p, batch(1))
	require.Eventually(t, func() bool { return log.count("W!", "asks to wait 1h0m0s") == 1 }, 30*time.Second, 5*time.Millisecond)

	closed := make(chan error)
	go func() { closed <- p.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Close sat out the 429's retry_after")
	}
	require.Equal(t, 1, log.count("W!", "Stopping with 1 event(s) not delivered"), log.String())
}

// Without a state directory, what is left at the stop was never
// acknowledged: Telegraf's buffer holds it.
func TestCloseWithoutStateDirectorySaysWhereTheEventsAre(t *testing.T) {
	srv := newServer(t)
	srv.SetDefault(botapitest.Response{Status: 502})
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.CloseTimeout = config.Duration(100 * time.Millisecond) })
	require.ErrorIs(t, p.Write(batch(2)), ErrNotDelivered)
	require.NoError(t, p.Close())
	require.Equal(t, 1, p.log.count("W!", "Stopping with 2 event(s) not delivered: not acknowledged, they stay in Telegraf's buffer"), p.log.String())
}
