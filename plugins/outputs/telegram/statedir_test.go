package telegram

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
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
	st, _, err := parseQueueFileAt(t, filepath.Join(dir, "queue.log"))
	require.NoError(t, err)
	require.Equal(t, []string{"🚨 event 1", "🚨 event 2", "🚨 event 3"}, texts2(st.events), "a crash now loses nothing")

	second := basePlugin(srv.URL())
	second.StateDirectory = dir
	second.Log = &captureLogger{}
	require.NoError(t, second.Init())
	require.ErrorContains(t, second.Connect(), "in use by another outputs.telegram", "locked again")
	require.NoError(t, second.Close())

	srv.SetDefault(botapitest.Response{})
	require.Equal(t, alertTexts(1, 3), texts(waitMessages(t, srv, 3)))
}

func parseQueueFileAt(t *testing.T, path string) (queueState, int, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return parseQueueFile(data)
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
