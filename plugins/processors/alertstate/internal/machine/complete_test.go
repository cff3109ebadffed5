package machine

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// stepN runs a step whose scan reports `reported` process metrics, of which
// only those in s.seen arrive.
func stepN(m *Machine, s step, reported int64) []string {
	t := at(s.at)
	var evs []Event
	for _, p := range s.seen {
		evs = append(evs, m.Observe(observation(p, t))...)
	}
	r := scanResult(s.scanH, t, true)
	r.Processes = reported
	return describe(append(evs, m.CloseScan(r)...))
}

// A scan that arrives in part (the first part of a split scan acknowledged
// before an alerter's restart, the last delivered again) proves nothing
// gone: no false recovery, and so no second alert at the next scan. Scans
// that keep arriving short are the configuration's: the third in a row
// proves jobs gone again, with a notice.
func TestScanArrivedInPartRecoversNothing(t *testing.T) {
	var notices []Notice
	cfg := testConfig()
	cfg.Notify = func(n Notice) { notices = append(notices, n) }
	m := New(cfg)
	both := []ps{{pid: 7, age: 7200}, {pid: 8, age: 7200}}
	require.Equal(t, []string{"alert h1/7 sent=1", "alert h1/8 sent=1"}, stepN(m, step{at: 0, seen: both}, 2))

	// Only job 8's metric arrives of a scan reporting two: 7 stands.
	require.Empty(t, stepN(m, step{at: 10, seen: []ps{{pid: 8, age: 7210}}}, 2))
	// Nothing of the scan but its result: still nothing recovered.
	require.Empty(t, stepN(m, step{at: 20}, 2))
	// A whole scan: all known, nothing new, nothing twice.
	require.Empty(t, stepN(m, step{at: 30, seen: []ps{{pid: 7, age: 7230}, {pid: 8, age: 7230}}}, 2))
	require.Equal(t, 2, m.Jobs())
	require.Empty(t, notices)

	// Job 7 really ends: a whole scan reporting one process recovers it.
	require.Equal(t, []string{"recovery h1/7 sent=1"}, stepN(m, step{at: 40, seen: []ps{{pid: 8, age: 7240}}}, 1))

	// Scans short three times in a row: the third is taken as whole.
	require.Empty(t, stepN(m, step{at: 50}, 1))
	require.Empty(t, stepN(m, step{at: 60}, 1))
	require.Equal(t, []string{"recovery h1/8 sent=1"}, stepN(m, step{at: 70}, 1))
	require.Len(t, notices, 1)
	require.Equal(t, NoticeShortScans, notices[0].Kind)
	require.Equal(t, [2]int64{0, 1}, [2]int64{notices[0].Arrived, notices[0].Reported})
}

// A scan that does not say how many processes it reported (an older input,
// a hand-made metric) is taken as whole, as before.
func TestScanWithoutCountIsWhole(t *testing.T) {
	m := New(testConfig())
	require.Equal(t, []string{"alert h1/7 sent=1"}, stepN(m, step{at: 0, seen: []ps{{pid: 7, age: 7200}}}, -1))
	require.Equal(t, []string{"recovery h1/7 sent=1"}, stepN(m, step{at: 10}, -1))
}
