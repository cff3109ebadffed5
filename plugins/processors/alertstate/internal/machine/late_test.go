package machine

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// JetStream delivers again what the alerter had not acknowledged when it
// died, and a node's buffer can deliver late: a scan not newer than the
// last one decided for its source changes nothing, in the same run or after
// a restart from the saved state.
func TestMachineReplayChangesNothing(t *testing.T) {
	seven := func(s float64) []ps { return []ps{{pid: 7, created: -7200, age: 7200 + s}} }
	scans := []step{
		{at: 0, seen: seven(0), scan: "ok", want: []string{"alert h1/7 sent=1"}},
		{at: 10, seen: seven(10), scan: "ok"},
		// 7 ends and 8 starts.
		{at: 20, seen: []ps{{pid: 8, created: -7200, age: 7220}}, scan: "ok", want: []string{"alert h1/8 sent=1", "recovery h1/7 sent=1"}},
	}
	replay := []step{
		{at: 0, seen: seven(0), scan: "ok"},
		{at: 10, seen: seven(10), scan: "ok"},
		{at: 20, seen: []ps{{pid: 8, created: -7200, age: 7220}}, scan: "ok"},
		// Late and out of order.
		{at: 15, seen: seven(15), scan: "ok"},
		{at: 20, scan: "ok"},
		{at: 19, seen: seven(19)},
		{at: 20, seen: seven(20), scan: "fail"},
	}
	m := New(testConfig())
	runSteps(t, m, scans)
	runSteps(t, m, replay)

	m = New(testConfig())
	runSteps(t, m, scans)
	r := New(testConfig())
	require.NoError(t, r.Restore(m.Snapshot()))
	runSteps(t, r, replay)
	// The next scan is decided as usual.
	runSteps(t, r, []step{
		{at: 30, scan: "ok", want: []string{"recovery h1/8 sent=1"}},
	})
	// A source whose state has nothing left is kept for this.
	require.NotEmpty(t, r.Snapshot().Sources)
	r2 := New(testConfig())
	require.NoError(t, r2.Restore(r.Snapshot()))
	runSteps(t, r2, []step{{at: 20, seen: []ps{{pid: 8, created: -7200, age: 7220}}, scan: "ok"}})
}

// A replay of one source is no reason to ignore another's scans.
func TestMachineReplayPerSource(t *testing.T) {
	m := New(testConfig())
	runSteps(t, m, []step{
		{at: 100, seen: []ps{{host: "a", pid: 7, age: 7200}}, scan: "ok", scanH: "a", want: []string{"alert a/7 sent=1"}},
		{at: 50, seen: []ps{{host: "b", pid: 7, age: 7200}}, scan: "ok", scanH: "b", want: []string{"alert b/7 sent=1"}},
	})
}

// Further back than replayHorizon the source's clock stepped back: its
// scans are decided on (the Clocks rules), not ignored until the clock
// catches up.
func TestMachineClockBackIsNotReplay(t *testing.T) {
	m := New(testConfig())
	back := -replayHorizon.Seconds() - 1
	runSteps(t, m, []step{
		{at: 0, seen: []ps{{pid: 7, created: -7200, age: 7200}}, scan: "ok", want: []string{"alert h1/7 sent=1"}},
		{at: back, scan: "ok", want: []string{"recovery h1/7 sent=1"}},
		{at: back + 10, seen: []ps{{pid: 8, created: -7200, age: 7200}}, scan: "ok", want: []string{"alert h1/8 sent=1"}},
	})
}
