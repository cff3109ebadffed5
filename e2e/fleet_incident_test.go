package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

// chatLine is a message as the chat shows it: its headline and the rest.
type chatLine struct {
	headline, text string
}

func chatLines(msgs []botapitest.Message) []chatLine {
	out := make([]chatLine, 0, len(msgs))
	for _, m := range msgs {
		text := botapitest.VisibleText(m.Text, m.ParseMode)
		headline, _, _ := strings.Cut(text, "\n")
		out = append(out, chatLine{headline: headline, text: text})
	}
	return out
}

// silenceAbout counts the silent and back messages naming the node.
func silenceAbout(lines []chatLine, node string) (silent, back int) {
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l.headline, "🔇 Watchdog on "+node+" silent for "):
			silent++
		case strings.HasPrefix(l.headline, "📡 Watchdog on "+node+" heard again after "):
			back++
		}
	}
	return silent, back
}

// withoutSilence drops the silence messages: a node of this loaded machine
// may stall past silent_after on its own, which is news, not a test failure.
func withoutSilence(lines []chatLine) []chatLine {
	var out []chatLine
	for _, l := range lines {
		if !strings.HasPrefix(l.headline, "🔇 ") && !strings.HasPrefix(l.headline, "📡 ") {
			out = append(out, l)
		}
	}
	return out
}

// TestFleetIncidentSilenceAndReplay runs the shipped alerter.conf's fleet
// options (the whole fleet one group, digests from two jobs, silent_after)
// with a shorter group window and silent_after: a fleet-wide incident, a
// node that dies and comes back, and an alerter killed with decided
// messages not yet acknowledged, which JetStream delivers again.
func TestFleetIncidentSilenceAndReplay(t *testing.T) {
	t.Parallel()
	f := startFleetWith(t, map[string]string{
		`group_interval = "1m"`: `group_interval = "20s"`,
		`silent_after = "2m"`:   `silent_after = "15s"`,
	}, "runner-1", "runner-2", "runner-3")
	one, two, three := f.nodes[0], f.nodes[1], f.nodes[2]

	t.Log("one stuck job on each node at once: one alert, then one digest naming the others")
	one.proc.addJob(t, 200, "tests/test_a.py")
	two.proc.addJob(t, 300, "tests/test_b.py")
	three.proc.addJob(t, 400, "tests/test_c.py")
	named := func(lines []chatLine) []string {
		var out []string
		for _, n := range f.nodes {
			for _, l := range lines {
				if strings.Contains(l.text, n.name) {
					out = append(out, n.name)
					break
				}
			}
		}
		return out
	}
	proctest.WaitFor(t, 120*time.Second, "messages naming every node", func() bool {
		f.checkRunning(t)
		return len(named(withoutSilence(chatLines(f.tg.Messages())))) == 3
	})
	f.caughtUp(t)
	lines := withoutSilence(chatLines(f.tg.Messages()))
	require.Len(t, lines, 2, "one alert and one digest: %v", lines)
	first, digest := lines[0], lines[1]
	require.Regexp(t, `^🚨 Blocking process on runner-[123]$`, first.headline)
	alone := strings.TrimPrefix(first.headline, "🚨 Blocking process on ")
	var others []string
	for _, n := range f.nodes {
		if n.name != alone {
			others = append(others, n.name)
		}
	}
	require.Equal(t, "🚨 2 blocking processes on "+strings.Join(others, ", "), digest.headline)
	for _, n := range others {
		require.Regexp(t, "(?m)^"+n+`: PID \d00 \(orphaned\), `, digest.text)
	}

	t.Log("a node SIGKILLed: reported silent, its job kept; restarted: reported back")
	killed := len(f.tg.Messages())
	three.agent.Kill(t)
	three.agent = nil
	proctest.WaitFor(t, 120*time.Second, "runner-3 reported silent", func() bool {
		f.checkRunning(t)
		silent, _ := silenceAbout(chatLines(f.tg.Messages()[killed:]), "runner-3")
		return silent >= 1
	})
	three.agent = proctest.Start(t, three.env, f.bin, "--config", three.conf)
	proctest.WaitFor(t, 120*time.Second, "runner-3 reported back", func() bool {
		f.checkRunning(t)
		_, back := silenceAbout(chatLines(f.tg.Messages()[killed:]), "runner-3")
		return back >= 1
	})
	f.caughtUp(t)
	lines = chatLines(f.tg.Messages())
	silent, back := silenceAbout(lines[killed:], "runner-3")
	require.Equal(t, [2]int{1, 1}, [2]int{silent, back}, "reported once each")
	require.Len(t, withoutSilence(lines), 2, "runner-3's job neither recovered nor alerted again: %v", lines)

	t.Log("the alerter SIGKILLed with decided messages unacknowledged, while a job ends and another starts")
	// An output that refuses the scans holds the acknowledgement of every
	// message the alerter takes, though alertstate decides on it and the
	// Telegram output sends its events: a kill then leaves decided
	// messages for JetStream to deliver again.
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(refuse.Close)
	holding := f.aConf + ".holding"
	base, err := os.ReadFile(f.aConf)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(holding, append(base, fmt.Sprintf(`
[[outputs.http]]
  namepass = ["procblocking_scan"]
  url = %q
  data_format = "influx"
  flush_interval = "1s"
  timeout = "2s"
`, refuse.URL)...), 0o600))

	f.quiesce(t)
	f.deliveriesRecorded(t)
	f.alerter.Kill(t)
	f.alerter = proctest.Start(t, f.aEnv, f.bin, "--config", holding)
	f.resumeNodes()
	before := len(f.tg.Messages())
	one.proc.remove(t, 200)
	two.proc.addJob(t, 301, "tests/test_d.py")
	proctest.WaitFor(t, 120*time.Second, "the recovery of job 200 and the alert of job 301", func() bool {
		f.checkRunning(t)
		after := chatLines(f.tg.Messages()[before:])
		return len(about(after, "runner-1", 200)) >= 1 && len(about(after, "runner-2", 301)) >= 1
	})
	f.deliveriesRecorded(t)
	ci := f.consumer(t)
	require.Positive(t, ci.NumAckPending, "decided messages wait for their acknowledgement")
	f.alerter.Kill(t)
	f.alerter = nil
	f.startAlerter(t)
	f.caughtUp(t)

	// JetStream delivered again what the killed alerter had decided: the
	// alerter's file output shows those scans twice.
	received := scansByHost(t, f.aOut)
	twice := 0
	for host, scans := range received {
		seen := map[int64]int{}
		for _, s := range scans {
			seen[s.time.UnixNano()]++
		}
		for _, n := range seen {
			if n > 1 {
				twice++
			}
		}
		require.NotEmpty(t, scans, host)
	}
	require.Positive(t, twice, "no scan was delivered again: the replay was not tested")

	msgs := f.tg.Messages()
	after := withoutSilence(chatLines(msgs[before:]))
	require.Len(t, after, 2, "one recovery, one new alert, nothing repeated: %v", after)
	require.Len(t, about(after, "runner-1", 200), 1)
	require.True(t, strings.HasPrefix(about(after, "runner-1", 200)[0].headline, "✅ Blocking process on runner-1: recovered"), after)
	require.Len(t, about(after, "runner-2", 301), 1)
	require.Equal(t, "🚨 Blocking process on runner-2", about(after, "runner-2", 301)[0].headline)
	require.Len(t, about(withoutSilence(chatLines(msgs)), "runner-1", 200), 2, "job 200: its alert in the incident, its recovery")
}

// about returns the messages that name the node and the PID.
func about(lines []chatLine, node string, pid int) []chatLine {
	var out []chatLine
	for _, l := range lines {
		if strings.Contains(l.text, node) && strings.Contains(l.text, fmt.Sprintf("PID %d ", pid)) {
			out = append(out, l)
		}
	}
	return out
}
