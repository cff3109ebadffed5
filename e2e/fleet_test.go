package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

// The fleet tests run the shipped deploy/fleet configurations: three node
// agents publishing to a real nats-server with JetStream, and one alerter
// consuming them and talking to the Bot API stand-in. The nodes scan fake
// /proc trees through HOST_PROC, which the tests change to start and end
// jobs. A few keys are set for speed (a 1s interval, no group window), and
// each agent also writes what it handles to a file to watch it by.

// messagesAbout returns the messages whose headline names the node and
// whose text names the PID, as the chat shows them.
func messagesAbout(msgs []botapitest.Message, node string, pid int) []botapitest.Message {
	var out []botapitest.Message
	for _, m := range msgs {
		text := botapitest.VisibleText(m.Text, m.ParseMode)
		headline, _, _ := strings.Cut(text, "\n")
		if (strings.HasSuffix(headline, " on "+node) || strings.Contains(headline, " on "+node+":")) &&
			strings.Contains(text, fmt.Sprintf("PID %d ", pid)) {
			out = append(out, m)
		}
	}
	return out
}

func TestFleetAlertsThroughJetStream(t *testing.T) {
	t.Parallel()
	f := startFleet(t, "runner-1", "runner-2", "runner-3")
	one, two, three := f.nodes[0], f.nodes[1], f.nodes[2]

	// A stuck job on one node: one alert, naming the node and the job.
	cmdA := one.proc.addJob(t, 200, "tests/test_a.py")
	proctest.WaitFor(t, 60*time.Second, "the alert of runner-1's job", func() bool {
		f.checkRunning(t)
		return len(f.tg.Messages()) >= 1
	})
	f.caughtUp(t)
	msgs := f.tg.Messages()
	require.Equal(t, []string{"alert"}, botapitest.EventKinds(msgs), "one alert, once")
	require.Len(t, messagesAbout(msgs, "runner-1", 200), 1, msgs[0].Text)
	require.Contains(t, msgs[0].Text, cmdA)
	require.NotContains(t, msgs[0].Text, "runner-2")
	require.NotContains(t, msgs[0].Text, "runner-3")
	// The node's host tag reached the alerter's events as the node set it.
	var alertTags map[string]string
	for _, m := range readMetrics(t, f.aOut) {
		if m.Name() == "procblocking_alert" {
			alertTags = m.Tags()
		}
	}
	require.Equal(t, map[string]string{"event": "alert", "host": "runner-1", "pattern": "pytest", "pid": "200"}, alertTags)

	// The processes the steps below restart belong to the whole test, so
	// the steps are not subtests (whose end would kill them). In each, the
	// part is stopped with nothing in flight: a message the alerter took
	// but had not yet acknowledged would come back late, out of order.

	t.Log("the alerter stopped cleanly while a job starts")
	{
		f.quiesce(t)
		require.NoError(t, syscall.Kill(f.alerter.PID(), syscall.SIGTERM))
		require.NoError(t, f.alerter.Wait(t, 60*time.Second), f.alerter.Stderr.String())
		f.alerter = nil
		// Telegraf's consumer deletes the durable consumer it created when
		// it stops; the workqueue stream keeps only what was never
		// acknowledged, so the next start reads no old scan again (an old
		// scan of runner-1 would alert job 200 anew).
		_, err := f.js.ConsumerInfo(fleetStream, fleetConsumer)
		require.ErrorIs(t, err, nats.ErrConsumerNotFound)
		cmdC := two.proc.addJob(t, 300, "tests/test_c.py")
		f.resumeNodes()
		f.waitPublished(t, two, 2, "300")

		f.startAlerter(t)
		proctest.WaitFor(t, 60*time.Second, "the alert of runner-2's job", func() bool {
			f.checkRunning(t)
			return len(f.tg.Messages()) >= 2
		})
		f.caughtUp(t)
		msgs := f.tg.Messages()
		require.Equal(t, []string{"alert", "alert"}, botapitest.EventKinds(msgs), "one new alert, nothing repeated")
		c := messagesAbout(msgs, "runner-2", 300)
		require.Len(t, c, 1)
		require.Contains(t, c[0].Text, cmdC)
		require.Len(t, messagesAbout(msgs, "runner-1", 200), 1, "job 200 not alerted again from an old scan")
	}

	t.Log("the alerter SIGKILLed while a job ends and another starts")
	{
		f.quiesce(t)
		f.deliveriesRecorded(t)
		f.alerter.Kill(t)
		f.alerter = nil
		// The consumer outlives the alerter.
		_, err := f.js.ConsumerInfo(fleetStream, fleetConsumer)
		require.NoError(t, err)
		one.proc.remove(t, 200)
		cmdB := one.proc.addJob(t, 201, "tests/test_b.py")
		f.resumeNodes()
		// The change waits in JetStream for the alerter.
		f.waitPublished(t, one, 2, "201")
		require.Len(t, f.tg.Messages(), 2)

		f.startAlerter(t)
		proctest.WaitFor(t, 60*time.Second, "the recovery of job 200 and the alert of job 201", func() bool {
			f.checkRunning(t)
			return len(f.tg.Messages()) >= 4
		})
		f.caughtUp(t)
		msgs := f.tg.Messages()
		require.ElementsMatch(t, []string{"alert", "alert", "recovery", "alert"}, botapitest.EventKinds(msgs), "one recovery, one new alert, nothing repeated")
		a := messagesAbout(msgs, "runner-1", 200)
		require.Len(t, a, 2, "job 200: its alert and its recovery")
		require.Equal(t, "recovery", botapitest.EventKind(a[1].Text))
		b := messagesAbout(msgs, "runner-1", 201)
		require.Len(t, b, 1, "job 201: one alert")
		require.Equal(t, "alert", botapitest.EventKind(b[0].Text))
		require.Contains(t, b[0].Text, cmdB)
	}

	t.Log("nats-server restarted")
	{
		f.quiesce(t)
		gatheredBefore := len(scansByHost(t, three.out)[three.name])
		f.nats.stop(t)
		f.resumeNodes()
		// The nodes go on scanning while NATS is down: a new job on
		// runner-3 among them.
		three.proc.addJob(t, 400, "tests/test_d.py")
		proctest.WaitFor(t, 60*time.Second, "runner-3 to scan job 400 while NATS is down", func() bool {
			f.checkRunning(t)
			for _, s := range scansByHost(t, three.out)[three.name][gatheredBefore:] {
				if slices.Equal(s.pids, []string{"400"}) {
					return true
				}
			}
			return false
		})
		f.nats.start(t)

		proctest.WaitFor(t, 120*time.Second, "the alert of runner-3's job", func() bool {
			f.checkRunning(t)
			return len(messagesAbout(f.tg.Messages(), "runner-3", 400)) >= 1
		})
		f.caughtUp(t)

		// Nothing lost: every scan each node gathered, the outage's too, has
		// reached the alerter (up to the last the alerter has).
		received := scansByHost(t, f.aOut)
		for _, n := range f.nodes {
			got := map[int64]bool{}
			for _, s := range received[n.name] {
				got[s.time.UnixNano()] = true
			}
			gathered := scansByHost(t, n.out)[n.name]
			require.NotEmpty(t, gathered)
			require.NotEmpty(t, received[n.name])
			last := received[n.name][len(received[n.name])-1].time
			var missing []time.Time
			for _, s := range gathered {
				if !s.time.After(last) && !got[s.time.UnixNano()] {
					missing = append(missing, s.time)
				}
			}
			require.Empty(t, missing, "scans of %s gathered but never received by the alerter", n.name)
		}
		msgs := f.tg.Messages()
		require.Len(t, msgs, 5, "one new alert, nothing repeated: %v", botapitest.EventKinds(msgs))
		d := messagesAbout(msgs, "runner-3", 400)
		require.Len(t, d, 1)
		require.Equal(t, "alert", botapitest.EventKind(d[0].Text))
		require.Equal(t, 0, f.consumer(t).NumRedelivered)
	}

	t.Log("a node SIGKILLed while its job ends, then restarted")
	{
		three.agent.Kill(t)
		three.agent = nil
		three.proc.remove(t, 400)
		// A silent node's jobs are not gone: the other nodes' scans go on
		// being decided, and nothing is recovered.
		f.caughtUp(t)
		require.Len(t, f.tg.Messages(), 5, "no event while runner-3 is silent: %v", botapitest.EventKinds(f.tg.Messages()))

		three.agent = proctest.Start(t, three.env, f.bin, "--config", three.conf)
		proctest.WaitFor(t, 60*time.Second, "the recovery of runner-3's job", func() bool {
			f.checkRunning(t)
			return len(f.tg.Messages()) >= 6
		})
		f.caughtUp(t)
		msgs := f.tg.Messages()
		require.Len(t, msgs, 6, "one recovery, nothing repeated: %v", botapitest.EventKinds(msgs))
		d := messagesAbout(msgs, "runner-3", 400)
		require.Len(t, d, 2)
		require.Equal(t, "recovery", botapitest.EventKind(d[1].Text))
	}
}

// TestFleetAlerterStartErrors: an alerter that cannot work stops at start,
// saying why, so that its restart policy (or its operator) takes over:
// NATS_URL unset, and no stream yet because no node has connected.
func TestFleetAlerterStartErrors(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t, "telegraf-procblocking")
	n := startNATS(t)
	dir := t.TempDir()
	env := []string{"TELEGRAM_BOT_TOKEN=" + e2eToken, "TELEGRAM_CHAT_ID=-100123",
		"PROCBLOCKING_STATE_DIR=" + filepath.Join(dir, "state")}
	conf := filepath.Join("..", "deploy", "fleet", "alerter.conf")
	run := func(env ...string) string {
		cmd := exec.Command(bin, "--config", conf)
		for _, e := range os.Environ() {
			if !strings.HasPrefix(e, "NATS_URL=") {
				cmd.Env = append(cmd.Env, e)
			}
		}
		cmd.Env = append(cmd.Env, env...)
		p := proctest.StartCmd(t, cmd)
		require.NotEqual(t, 0, exitCode(p.Wait(t, 120*time.Second)), p.Stderr.String())
		return p.Stderr.String()
	}
	require.Regexp(t, `alerter\.conf:\d+: starting input inputs\.nats_consumer: .*\$\{NATS_URL\}`, run(env...))
	require.Regexp(t, `alerter\.conf:\d+: starting input inputs\.nats_consumer: nats: stream not found`, run(append(env, "NATS_URL="+n.url())...))
}
