package telegram

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/botclient"
)

// The crash tests run this test binary again as a child that writes events
// to the output until it is SIGKILLed.
const (
	crashChildAPI  = "TELEGRAM_CRASH_CHILD_API"
	crashChildDir  = "TELEGRAM_CRASH_CHILD_DIR"
	crashChildFrom = "TELEGRAM_CRASH_CHILD_FROM"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildAPI) != "" {
		crashChild()
		return
	}
	os.Exit(m.Run())
}

func crashEvent(i int) telegraf.Metric {
	return metric.New("procblocking_alert", map[string]string{"event": "alert", "host": "crash"},
		map[string]interface{}{"message": fmt.Sprintf("🚨 crash event %d", i), "alert_id": fmt.Sprintf("%016x", i)},
		time.Unix(1_700_000_000, int64(i)))
}

// crashChild connects an output on the state directory and writes events
// numbered from its FROM (none when FROM is -1), printing "accepted N" once
// Write returned for event N; it delivers until it is killed. A fake clock
// takes the pacing's waits out of the test's time.
func crashChild() {
	p := basePlugin(os.Getenv(crashChildAPI))
	p.ChatID = "42"
	p.StateDirectory = os.Getenv(crashChildDir)
	p.Log = testutil.Logger{Name: "outputs.telegram"}
	clock := newFakeClock()
	p.now, p.sleep, p.after = clock.now, clock.sleep, clock.after
	if err := p.Init(); err != nil {
		panic(err)
	}
	if err := p.Connect(); err != nil {
		panic(err)
	}
	from, err := strconv.Atoi(os.Getenv(crashChildFrom))
	if err != nil {
		panic(err)
	}
	for i := from; from >= 0; i++ {
		if err := p.Write([]telegraf.Metric{crashEvent(i)}); err != nil {
			panic(err)
		}
		fmt.Printf("accepted %d\n", i)
		time.Sleep(time.Millisecond)
	}
	for {
		time.Sleep(time.Hour)
	}
}

func startCrashChild(t *testing.T, apiURL, dir string, from int) *proctest.Proc {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	return proctest.Start(t, []string{
		crashChildAPI + "=" + apiURL, crashChildDir + "=" + dir, crashChildFrom + "=" + strconv.Itoa(from),
	}, exe, "-test.run=^$")
}

// accepted is the events a child reported accepted, from its complete lines.
func accepted(t *testing.T, child *proctest.Proc, into map[int]bool) {
	t.Helper()
	for _, line := range child.Stdout.Lines() {
		if n, ok := strings.CutPrefix(line, "accepted "); ok {
			i, err := strconv.Atoi(n)
			require.NoError(t, err, line)
			into[i] = true
		}
	}
}

// delivered counts each crash event in the messages (merged ones hold
// several).
func delivered(msgs []botapitest.Message) map[int]int {
	out := map[int]int{}
	for _, m := range msgs {
		for _, part := range strings.Split(botapitest.VisibleText(m.Text, m.ParseMode), botclient.Separator) {
			var i int
			if _, err := fmt.Sscanf(part, "🚨 crash event %d", &i); err == nil {
				out[i]++
			}
		}
	}
	return out
}

// runKilled starts a child writing events from `from`, lets it accept some,
// SIGKILLs it at a random moment and adds what it had accepted to into. It
// returns how many damaged lines the child found in the queue file at its
// start (a line the previous kill cut short).
func runKilled(t *testing.T, rng *rand.Rand, apiURL, dir string, from int, into map[int]bool) int {
	t.Helper()
	child := startCrashChild(t, apiURL, dir, from)
	proctest.WaitFor(t, 60*time.Second, "the child to accept events", func() bool {
		require.False(t, child.Exited(), "the child exited: %v\n%s", child.Err(), child.Stderr.String())
		return len(child.Stdout.Lines()) > 0
	})
	time.Sleep(time.Duration(rng.IntN(40_000)) * time.Microsecond)
	child.Kill(t)
	accepted(t, child, into)
	return strings.Count(child.Stderr.String(), "damaged line")
}

// TestQueueSurvivesSIGKILL kills a real process at random moments while it
// writes events and Telegram answers 500; a last run with Telegram back
// delivers every event accepted, each exactly once. Nothing could be
// delivered before, so nothing may come twice.
func TestQueueSurvivesSIGKILL(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	srv := newServer(t)
	srv.SetDefault(botapitest.Response{Status: 500})
	dir := t.TempDir()

	want := map[int]bool{}
	torn := 0
	for round := range 8 {
		torn += runKilled(t, rng, srv.URL(), dir, round*100_000, want)
	}
	require.NotEmpty(t, want)
	require.Empty(t, srv.Messages())

	srv.SetDefault(botapitest.Response{})
	last := startCrashChild(t, srv.URL(), dir, -1)
	proctest.WaitFor(t, 60*time.Second, "every accepted event delivered", func() bool {
		got := delivered(srv.Messages())
		for i := range want {
			if got[i] == 0 {
				return false
			}
		}
		return true
	})
	last.Kill(t)
	got := delivered(srv.Messages())
	for i, n := range got {
		require.Equal(t, 1, n, "event %d delivered %d times", i, n)
	}
	t.Logf("%d events accepted over 8 kills (%d left a torn line), %d delivered (an event written but not yet reported is delivered too) in %d messages",
		len(want), torn, len(got), len(srv.Messages()))
}

// TestQueueSIGKILLDuringDelivery kills the process while it delivers: no
// event accepted is lost. A message Telegram took just before the kill may
// come again (the delivery was not yet recorded): at most the events of one
// message per kill.
func TestQueueSIGKILLDuringDelivery(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	srv := newServer(t)
	dir := t.TempDir()

	want := map[int]bool{}
	const kills = 5
	for round := range kills {
		runKilled(t, rng, srv.URL(), dir, round*100_000, want)
	}
	last := startCrashChild(t, srv.URL(), dir, -1)
	proctest.WaitFor(t, 60*time.Second, "every accepted event delivered", func() bool {
		got := delivered(srv.Messages())
		for i := range want {
			if got[i] == 0 {
				return false
			}
		}
		return true
	})
	last.Kill(t)
	dups := 0
	for _, n := range delivered(srv.Messages()) {
		dups += n - 1
	}
	t.Logf("%d events accepted over %d kills, %d delivered twice, %d messages", len(want), kills, dups, len(srv.Messages()))
	require.LessOrEqual(t, dups, kills*botclient.MaxEventsPerMessage)
}
