package machine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is the arrival clock of a test: seconds after t0.
type fakeClock struct{ now float64 }

func (c *fakeClock) read() int64 { return at(c.now) }

func silenceConfig(c *fakeClock) Config {
	cfg := fleetConfig([]string{})
	cfg.SilentAfter = 2 * time.Minute
	cfg.Now = c.read
	return cfg
}

// describeSilence renders the silence events of evs: "silent n3 2m5s".
func describeSilence(evs []Event) []string {
	var out []string
	for _, e := range evs {
		if e.Kind == KindSilent || e.Kind == KindHeardAgain {
			out = append(out, string(e.Kind)+" "+hostOf(e.SourceTags)+" "+e.Silent.String())
		}
	}
	return out
}

// scanAll runs one scan of each host at clock time s, the metrics
// stamped with s as well, and returns the events.
func scanAll(m *Machine, c *fakeClock, s float64, hosts ...string) []Event {
	c.now = s
	var evs []Event
	for _, h := range hosts {
		evs = append(evs, runStep(m, step{at: s, seen: []ps{stuck(h, 7, s)}, scan: "ok", scanH: h})...)
	}
	return evs
}

// A node that stops is reported once, by name and for how long, when the
// other nodes' metrics show that silent_after has passed; once when it is
// heard again. Its alerted job is neither recovered nor alerted again.
func TestMachineSilentSource(t *testing.T) {
	c := &fakeClock{}
	m := New(silenceConfig(c))
	scanAll(m, c, 0, "n1", "n2", "n3")
	for s := 10.0; s <= 120; s += 10 {
		require.Empty(t, describeSilence(scanAll(m, c, s, "n1", "n2")), "at %vs", s)
	}
	require.Equal(t, []string{"source_silent n3 2m10s"}, describeSilence(scanAll(m, c, 130, "n1", "n2")))
	for s := 140.0; s <= 400; s += 10 {
		evs := scanAll(m, c, s, "n1", "n2")
		require.Empty(t, evs, "at %vs: reported once, nothing recovered", s)
	}
	require.Equal(t, 3, m.Jobs(), "n3's job is kept")
	evs := scanAll(m, c, 410, "n3")
	require.Equal(t, []string{"source_back n3 6m50s"}, describeFleet(evs), "its job still runs: no alert again, no recovery")
	require.Empty(t, scanAll(m, c, 420, "n1", "n2", "n3"))
}

// Silence is counted on the alerter's clock, not the metrics' timestamps: a
// node whose clock runs ahead does not make the others silent, and a
// backlog replayed after an outage is not news.
func TestMachineSilenceByArrival(t *testing.T) {
	c := &fakeClock{}
	m := New(silenceConfig(c))
	scanAll(m, c, 0, "n1", "n2")
	c.now = 10
	// n2's metrics are stamped an hour ahead.
	for s := 10.0; s <= 300; s += 10 {
		c.now = s
		evs := runStep(m, step{at: s, seen: []ps{stuck("n1", 7, s)}, scan: "ok", scanH: "n1"})
		evs = append(evs, runStep(m, step{at: s + 3600, seen: []ps{stuck("n2", 7, s+3600)}, scan: "ok", scanH: "n2"})...)
		require.Empty(t, describeSilence(evs), "at %vs", s)
	}
}

// Nothing arriving from any source (the alerter cut off from NATS, or down)
// is not each node's silence: when metrics flow again, every node counts
// from then.
func TestMachineSilenceOfEveryone(t *testing.T) {
	c := &fakeClock{}
	m := New(silenceConfig(c))
	scanAll(m, c, 0, "n1", "n2", "n3")
	require.Empty(t, describeSilence(scanAll(m, c, 600, "n1")))
	require.Empty(t, describeSilence(scanAll(m, c, 700, "n1", "n2", "n3")))
	for s := 710.0; s <= 820; s += 10 {
		require.Empty(t, describeSilence(scanAll(m, c, s, "n1", "n2")), "at %vs", s)
	}
	require.Equal(t, []string{"source_silent n3 2m10s"}, describeSilence(scanAll(m, c, 830, "n1", "n2")))
}

// One source alone is never reported silent: the metrics that would tell
// are its own. Silence is off without a clock or with SilentAfter 0.
func TestMachineSilenceSingleSourceAndOff(t *testing.T) {
	c := &fakeClock{}
	m := New(silenceConfig(c))
	for s := 0.0; s <= 3600; s += 600 {
		require.Empty(t, describeSilence(scanAll(m, c, s, "n1")))
	}
	for _, cfg := range []Config{fleetConfig([]string{}), func() Config { x := silenceConfig(c); x.SilentAfter = 0; return x }()} {
		m := New(cfg)
		scanAll(m, c, 0, "n1", "n2")
		require.Empty(t, describeSilence(scanAll(m, c, 3600, "n1")))
	}
}

// A silence survives a restart of the alerter: not reported again, and
// reported over once the node is back.
func TestMachineSilenceSurvivesRestore(t *testing.T) {
	c := &fakeClock{}
	m := New(silenceConfig(c))
	scanAll(m, c, 0, "n1", "n2")
	for s := 10.0; s <= 120; s += 10 {
		scanAll(m, c, s, "n1")
	}
	require.Equal(t, []string{"source_silent n2 2m10s"}, describeSilence(scanAll(m, c, 130, "n1")))
	r := New(silenceConfig(c))
	require.NoError(t, r.Restore(m.Snapshot()))
	for s := 500.0; s <= 800; s += 10 {
		require.Empty(t, describeSilence(scanAll(r, c, s, "n1")), "at %vs", s)
	}
	require.Equal(t, []string{"source_back n2 13m30s"}, describeSilence(scanAll(r, c, 810, "n2")))
	// A node silent with nothing alerted is kept in the state too.
	c.now = 0
	m = New(silenceConfig(c))
	runStep(m, step{at: 0, scan: "ok", scanH: "n1"})
	runStep(m, step{at: 0, scan: "ok", scanH: "quiet"})
	for s := 10.0; s <= 120; s += 10 {
		c.now = s
		runStep(m, step{at: s, scan: "ok", scanH: "n1"})
	}
	c.now = 130
	require.Equal(t, []string{"source_silent quiet 2m10s"}, describeSilence(runStep(m, step{at: 130, scan: "ok", scanH: "n1"})))
	r = New(silenceConfig(c))
	require.NoError(t, r.Restore(m.Snapshot()))
	c.now = 300
	runStep(r, step{at: 300, scan: "ok", scanH: "n1"})
	require.Equal(t, []string{"source_back quiet 5m0s"}, describeSilence(runStep(r, step{at: 300, scan: "ok", scanH: "quiet"})))
}
