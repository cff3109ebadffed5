package e2e

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

// The shipped configuration loses no alert event when the agent dies during
// a Telegram outage: alert delivered; Telegram answers 500; the process
// ends, so alertstate emits the recovery and saves its state ("recovered");
// the agent is SIGKILLed before Telegram is back and restarted; Telegram
// comes back and the recovery arrives, exactly once. A clean restart with an
// empty buffer then sends nothing again (telegraf#16981).
//
// It also measures the alerting latency: from the scan that saw the process
// cross the threshold (the alert event's timestamp) to the Bot API receiving
// the message.
func TestNoEventLostWhenTheAgentDiesDuringAnOutage(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t, "telegraf-procblocking")
	tg := botapitest.New(t, e2eToken)
	marker := newMarker("crash")
	w := newWatchdog(t, marker, tg.URL())
	conf := w.write(t)

	orphan := startOrphan(t, marker)
	pid := strconv.Itoa(orphan.PID)
	agent := proctest.Start(t, w.env(), bin, "--config", conf)

	// The first alert, timed to the 10 ms.
	var received time.Time
	proctest.WaitFor(t, 60*time.Second, "the alert", func() bool {
		require.False(t, agent.Exited(), "agent exited: %v\n%s", agent.Err(), agent.Stderr.String())
		if count(tg.Messages(), "alert") == 0 {
			time.Sleep(10 * time.Millisecond)
			return false
		}
		received = time.Now()
		return true
	})
	waitFor(t, "the alert event in the agent's output", func() bool { return len(events(t, w.metrics, "alert")) == 1 })
	alert := events(t, w.metrics, "alert")[0]
	require.Equal(t, pid, alert.Tags()["pid"])
	latency := received.Sub(alert.Time())
	t.Logf("alerting latency: %s from the scan that crossed the threshold to the Bot API (scan interval 1s, Telegram output's flush_interval as shipped)", latency.Round(time.Millisecond))
	require.Less(t, latency, 30*time.Second, "sanity bound")

	agent = recoveryAcrossSIGKILL(t, bin, w, conf, orphan, tg, agent, nil)
	require.NotContains(t, agent.Stderr.String(), e2eToken)
}

// recoveryAcrossSIGKILL is the second half of the crash tests. With the
// alert of orphan delivered by agent (running conf), Telegram answers 500
// and the process ends: the recovery is made and tried. The agent is
// SIGKILLed and started again; whileDown (if any) checks the restarted agent
// once it has tried again. Telegram comes back: the recovery arrives, exactly
// once. A clean stop and start then sends nothing again (telegraf#16981), and
// neither restarted agent made an event of its own. It returns the last
// agent, stopped.
func recoveryAcrossSIGKILL(t *testing.T, bin string, w *watchdog, conf string, orphan *orphan,
	tg *botapitest.Server, agent *proctest.Proc, whileDown func(agent *proctest.Proc),
) *proctest.Proc {
	t.Helper()
	pid := strconv.Itoa(orphan.PID)
	tg.SetDefault(botapitest.Response{Status: 500, Description: "Internal Server Error"})
	orphan.kill(t)
	waitFor(t, "the recovery event", func() bool { return len(events(t, w.metrics, "recovery")) == 1 })
	require.Equal(t, pid, events(t, w.metrics, "recovery")[0].Tags()["pid"])
	tried := tg.Requests()
	waitFor(t, "an attempt to deliver the recovery", func() bool { return tg.Requests() > tried })
	require.Equal(t, []string{"alert"}, botapitest.EventKinds(tg.Messages()))

	agent.Kill(t)
	agent = proctest.Start(t, w.env(), bin, "--config", conf)
	tried = tg.Requests()
	waitFor(t, "the restarted agent to retry", func() bool {
		require.False(t, agent.Exited(), "agent exited: %v\n%s", agent.Err(), agent.Stderr.String())
		return tg.Requests() > tried
	})
	if whileDown != nil {
		whileDown(agent)
	}
	tg.SetDefault(botapitest.Response{})
	waitFor(t, "the recovery once Telegram is back", func() bool { return count(tg.Messages(), "recovery") == 1 })
	require.Contains(t, tg.Messages()[1].Text, pid)
	awaitScans(t, w.metrics, 3)
	require.Equal(t, []string{"alert", "recovery"}, botapitest.EventKinds(tg.Messages()), "each event delivered exactly once")

	// A clean stop and start with the buffer empty: nothing is sent again.
	require.NoError(t, agent.Cmd.Process.Signal(os.Interrupt))
	require.NoError(t, agent.Wait(t, 60*time.Second), agent.Stderr.String())
	agent = proctest.Start(t, w.env(), bin, "--config", conf)
	awaitScans(t, w.metrics, 3)
	require.NoError(t, agent.Cmd.Process.Signal(os.Interrupt))
	require.NoError(t, agent.Wait(t, 60*time.Second), agent.Stderr.String())
	require.Equal(t, []string{"alert", "recovery"}, botapitest.EventKinds(tg.Messages()), "a clean restart resent an event")
	require.Len(t, events(t, w.metrics, ""), 2, "a restarted agent made an event of its own")
	return agent
}
