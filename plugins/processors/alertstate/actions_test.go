package alertstate

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/chatactions"
)

func actionMetric(action string, allowed bool, user string, alertID string, until time.Time, at time.Time) telegraf.Metric {
	fields := map[string]interface{}{"user_id": int64(1001), "username": user, "allowed": allowed, "message_id": int64(1)}
	if alertID != "" {
		fields["alert_id"] = alertID
	}
	if !until.IsZero() {
		fields["until"] = until.Unix()
		fields["snooze_seconds"] = int64(until.Sub(at) / time.Second)
	}
	return metric.New(chatactions.Measurement, map[string]string{"action": action}, fields, at)
}

// scanAt is one scan of h1 seeing the job of PID 7.
func scanAt(p *AlertState, created time.Time, s float64) []telegraf.Metric {
	return events(p.Apply(procMetric("h1", 7, created, secs(s)), scanMetric("h1", secs(s), true, 1)))
}

func kinds(ms []telegraf.Metric) []string {
	var out []string
	for _, m := range ms {
		e, _ := m.GetTag("event")
		out = append(out, e)
	}
	return out
}

func TestSnoozeFromTheChat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertstate.json")
	p := statePlugin(t, path, nil)
	created := secs(-7200)
	require.Equal(t, []string{"alert"}, kinds(scanAt(p, created, 0)))
	id := alertID("h1", 7, created)

	// A stranger's press changes nothing and passes through.
	stranger := actionMetric("snooze", false, "mallet", id, secs(5000), secs(10))
	out := p.Apply(stranger)
	require.Equal(t, []telegraf.Metric{stranger}, out)

	press := actionMetric("snooze", true, "alice", id, secs(4*3600), secs(20))
	out = p.Apply(press)
	require.Len(t, out, 2)
	require.Equal(t, press, out[0], "the action passes through, for the audit trail")
	note := out[1]
	require.Equal(t, "snooze", note.Tags()["event"])
	require.Equal(t, "h1", note.Tags()["host"])
	require.Equal(t, id, note.Fields()["alert_id"])
	require.Equal(t, "🔕 Snoozed by @alice until "+secs(4*3600).Local().Format("15:04"), note.Fields()["message"])

	// No realert for several cooldowns, across a restart from the state file.
	require.Empty(t, scanAt(p, created, 1000))
	p2 := statePlugin(t, path, nil)
	require.Empty(t, scanAt(p2, created, 2000))
	require.Empty(t, scanAt(p2, created, 3000))
	// /status names the job and who snoozed it.
	st := events(p2.Apply(actionMetric("status", true, "bob", "", time.Time{}, secs(3100))))
	require.Len(t, st, 1)
	msg := st[0].Fields()["message"].(string)
	require.True(t, strings.HasPrefix(msg, "📋 Stuck jobs: 1\nHost h1:\n• PID 7, 2h 51m: python3 -m pytest tests/\n  🔕 snoozed by @alice until "), msg)
	require.Equal(t, []string{"realert"}, kinds(scanAt(p2, created, 4*3600)))
}

func TestAckFromTheChatKeepsTheRecovery(t *testing.T) {
	p := plugin(t, func(p *AlertState) { p.Language = "ru" })
	created := secs(-7200)
	require.Equal(t, []string{"alert"}, kinds(scanAt(p, created, 0)))
	out := events(p.Apply(actionMetric("ack", true, "", alertID("h1", 7, created), time.Time{}, secs(5))))
	require.Len(t, out, 1)
	require.Equal(t, "✔ Принято: пользователь 1001, повторов больше не будет", out[0].Fields()["message"])
	require.Empty(t, scanAt(p, created, 1000))
	require.Empty(t, scanAt(p, created, 9000))
	rec := events(p.Apply(scanMetric("h1", secs(9100), true, 0)))
	require.Equal(t, []string{"recovery"}, kinds(rec))
	// The job is gone: an ack of it does nothing.
	require.Empty(t, events(p.Apply(actionMetric("ack", true, "x", alertID("h1", 7, created), time.Time{}, secs(9200)))))
	st := events(p.Apply(actionMetric("status", true, "bob", "", time.Time{}, secs(9300))))
	require.Equal(t, "📋 Зависших задач нет", st[0].Fields()["message"])
}

func TestLongStatusSplitAtJobs(t *testing.T) {
	p := plugin(t, func(p *AlertState) { p.DigestAfter = 1000 })
	created := secs(-7200)
	var in []telegraf.Metric
	const jobs = 60
	for pid := 100; pid < 100+jobs; pid++ {
		in = append(in, proc{host: "h1", pid: pid, created: created, cmdline: "python3 -m pytest " + strings.Repeat("x", 150) + fmt.Sprint(pid)}.at(secs(0)))
	}
	in = append(in, scanMetric("h1", secs(0), true, jobs))
	require.Len(t, events(p.Apply(in...)), jobs)
	st := events(p.Apply(actionMetric("status", true, "bob", "", time.Time{}, secs(10))))
	require.Greater(t, len(st), 1)
	seen := 0
	for i, m := range st {
		msg := m.Fields()["message"].(string)
		require.LessOrEqual(t, utf8.RuneCountInString(msg), maxMessageRunes)
		require.True(t, strings.HasPrefix(msg, fmt.Sprintf("📋 Stuck jobs: %d (part %d of %d)\nHost h1:\n", jobs, i+1, len(st))), msg)
		seen += strings.Count(msg, "• PID ")
	}
	require.Equal(t, jobs, seen)
}
