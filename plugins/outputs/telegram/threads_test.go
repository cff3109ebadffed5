package telegram

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/threads"
)

// digestEvent is a digest as alertstate emits it: several jobs, their
// alert_ids space-separated.
func digestEvent(kind, message string, at int, jobs ...int) telegraf.Metric {
	var ids []string
	for _, j := range jobs {
		ids = append(ids, alertID(j))
	}
	return metric.New("procblocking_alert", map[string]string{"event": kind, "host": "ci-7"},
		map[string]interface{}{"message": message, "count": int64(len(jobs)), "alert_ids": strings.Join(ids, " ")},
		time.Unix(1_700_001_000+int64(at), 0))
}

func replies(msgs []botapitest.Message) []int64 {
	out := make([]int64, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, m.ReplyTo)
	}
	return out
}

// readThreads is the threads file of dir.
func readThreads(t *testing.T, dir string) map[string]threads.Ref {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "threads.json"))
	require.NoError(t, err)
	var f struct {
		Version int                    `json:"version"`
		Threads map[string]threads.Ref `json:"threads"`
	}
	require.NoError(t, json.Unmarshal(data, &f))
	require.Equal(t, 1, f.Version)
	return f.Threads
}

func TestRealertsAndRecoveryReplyToTheAlert(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.StateDirectory = dir })

	queueWrite(t, p, []telegraf.Metric{
		alertEvent("alert", "🚨 job 1", 1),
		alertEvent("alert", "🚨 job 2", 2),
		alertEvent("realert", "🔁 job 1", 1),
		alertEvent("realert", "🔁 job 2", 2),
		alertEvent("recovery", "✅ job 1", 1),
	})
	msgs := waitMessages(t, srv, 5)
	require.Equal(t, []int64{0, 0, 1, 2, 1}, replies(msgs))
	require.NoError(t, p.Close())
	require.Equal(t, map[string]threads.Ref{
		alertID(2): {Chat: testChat, MessageID: 2, At: 1_700_000_001},
	}, readThreads(t, dir), "the recovered job's entry is dropped")

	// After a restart (or a SIGKILL: the file is written before the event
	// counts as delivered), job 2's recovery still replies to its alert.
	p2 := newPlugin(t, srv.URL(), func(p *Telegram) { p.StateDirectory = dir })
	queueWrite(t, p2, []telegraf.Metric{alertEvent("recovery", "✅ job 2", 2)})
	require.Equal(t, int64(2), waitMessages(t, srv, 6)[5].ReplyTo)
	require.NoError(t, p2.Close())
	require.Empty(t, readThreads(t, dir))
}

// Each job of a digest maps to the digest's message: a job's later realert
// or recovery replies to the digest, and so does the recovery digest.
func TestDigestThreads(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	queueWrite(t, p, []telegraf.Metric{
		alertEvent("alert", "🚨 job 1", 1),
		digestEvent("alert", "🚨 3 blocking processes", 1, 2, 3, 4),
		alertEvent("realert", "🔁 job 3", 3),
		digestEvent("realert", "🔁 2 still", 4, 1, 3), // two threads: no reply
		digestEvent("recovery", "✅ 3 gone", 2, 2, 3, 4),
		digestEvent("recovery", "✅ 2 gone", 3, 1, 2), // job 2's thread has ended already
	})
	msgs := waitMessages(t, srv, 6)
	require.Equal(t, []int64{0, 0, 2, 0, 2, 1}, replies(msgs))
}

// A backlog merged into one message: every alert in it maps to that
// message, so each job's recovery replies to the message that carried it.
func TestMergedAlertsThreaded(t *testing.T) {
	srv := newServer(t)
	s := newTestSender(t, srv.URL(), testChat)
	s.write(t, burst(60))
	s.drain(t)
	merged := srv.Messages()
	require.Less(t, len(merged), 10)
	carrier := map[int]int64{} // job → message that carried its alert
	for _, m := range merged {
		for _, line := range strings.Split(m.Text, "\n") {
			var pid int
			if _, err := fmt.Sscanf(line, "PID %d,", &pid); err == nil {
				carrier[pid-10_000] = m.MessageID
			}
		}
	}
	require.Len(t, carrier, 60)

	s.write(t, []telegraf.Metric{alertEvent("recovery", "✅ job 7", 7), alertEvent("recovery", "✅ job 59", 59)})
	s.drain(t)
	got := srv.Messages()[len(merged):]
	require.Equal(t, []int64{carrier[7], carrier[59]}, replies(got))
	require.NotEqual(t, carrier[7], carrier[59], "two different merged messages")
}

// A deleted alert never blocks its realerts and recovery: they are sent as
// plain messages (allow_sending_without_reply).
func TestAlertDeleted(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.EditAlertOnRecovery = true })
	queueWrite(t, p, []telegraf.Metric{alertEvent("alert", "🚨 job 1", 1)})
	waitMessages(t, srv, 1)
	require.True(t, srv.Delete(testChat, 1))

	queueWrite(t, p, []telegraf.Metric{alertEvent("realert", "🔁 job 1", 1), alertEvent("recovery", "✅ job 1", 1)})
	msgs := waitMessages(t, srv, 3)
	require.Equal(t, []int64{0, 0, 0}, replies(msgs))
	require.Eventually(t, func() bool { return srv.Requests() == 4 }, 30*time.Second, 5*time.Millisecond, "the edit was tried")
	require.NoError(t, p.Close())
	require.Zero(t, p.log.count("E!")+p.log.count("W!"), p.log.String())
}

func TestEditAlertOnRecovery(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint(on), func(t *testing.T) {
			srv := newServer(t)
			p := newPlugin(t, srv.URL(), func(p *Telegram) { p.EditAlertOnRecovery = on })
			queueWrite(t, p, []telegraf.Metric{
				alertEvent("alert", "🚨 job 1 <x>\nPID 4001", 1),
				digestEvent("alert", "🚨 2 jobs", 1, 2, 3),
				alertEvent("recovery", "✅ job 1", 1),
				digestEvent("recovery", "✅ 2 gone", 2, 2, 3),
			})
			msgs := waitMessages(t, srv, 4)
			require.NoError(t, p.Close())
			if !on {
				require.Empty(t, msgs[0].EditedText)
				require.Equal(t, 4, srv.Requests())
				return
			}
			require.Equal(t, "<b>✅ 🚨 job 1 &lt;x&gt;</b>\nPID 4001", msgs[0].EditedText)
			require.Empty(t, msgs[1].EditedText, "a digest is not marked: its other jobs may still run")
			require.Equal(t, 5, srv.Requests())
		})
	}
}

func TestThreadRepliesOff(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.ThreadReplies = false })
	queueWrite(t, p, []telegraf.Metric{alertEvent("alert", "🚨 job 1", 1), alertEvent("recovery", "✅ job 1", 1)})
	require.Equal(t, []int64{0, 0}, replies(waitMessages(t, srv, 2)))
}
