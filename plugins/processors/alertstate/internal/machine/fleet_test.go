package machine

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// describeFleet renders events like describe, and a digest as its kind,
// its group's tags and each job as host/PID.
func describeFleet(evs []Event) []string {
	var out []string
	for _, e := range evs {
		if e.Kind == KindSilent || e.Kind == KindHeardAgain {
			out = append(out, describeSilence([]Event{e})...)
			continue
		}
		if !e.Digest() {
			out = append(out, describe([]Event{e})...)
			continue
		}
		var jobs []string
		for _, j := range e.Jobs {
			jobs = append(jobs, hostOf(j.SourceTags)+"/"+strconv.FormatInt(j.Head.PID, 10))
		}
		out = append(out, fmt.Sprintf("%s %v [%s]", e.Kind, tagsToMap(e.SourceTags), strings.Join(jobs, " ")))
	}
	return out
}

func runFleetSteps(t *testing.T, m *Machine, steps []step) {
	t.Helper()
	for i, s := range steps {
		require.Equal(t, s.want, describeFleet(runStep(m, s)), "step %d (at %vs)", i, s.at)
	}
}

func hostOf(tags []Tag) string {
	for _, t := range tags {
		if t.Key == "host" {
			return t.Value
		}
	}
	return ""
}

func fleetConfig(groupBy []string) Config {
	cfg := testConfig()
	cfg.GroupInterval = time.Minute
	cfg.DigestAfter = 1
	cfg.GroupBy = groupBy
	return cfg
}

func stuck(host string, pid int64, s float64) ps {
	return ps{host: host, pid: pid, created: -7200, age: 7200 + s}
}

// One stuck job on each of three nodes, their scans a second apart: the
// first alert goes out at once, the other two wait for the group window and
// go out as one digest naming both nodes; their recoveries too.
func TestMachineGroupByFleet(t *testing.T) {
	m := New(fleetConfig([]string{}))
	runFleetSteps(t, m, []step{
		{at: 0, seen: []ps{stuck("n1", 10, 0)}, scan: "ok", scanH: "n1", want: []string{"alert n1/10 sent=1"}},
		{at: 1, seen: []ps{stuck("n2", 20, 1)}, scan: "ok", scanH: "n2"},
		{at: 2, seen: []ps{stuck("n3", 30, 2)}, scan: "ok", scanH: "n3"},
		{at: 30, seen: []ps{stuck("n2", 20, 30)}, scan: "ok", scanH: "n2"},
		// The window opened by n1's alert ends: n1's own scan sends what
		// n2 and n3 hold.
		{at: 60, seen: []ps{stuck("n1", 10, 60)}, scan: "ok", scanH: "n1", want: []string{"alert map[] [n2/20 n3/30]"}},
		{at: 61, seen: []ps{stuck("n2", 20, 61)}, scan: "ok", scanH: "n2"},
		{at: 62, seen: []ps{stuck("n3", 30, 62)}, scan: "ok", scanH: "n3"},
		// Every job ends within the window opened at 60.
		{at: 70, scan: "ok", scanH: "n1"},
		{at: 71, scan: "ok", scanH: "n2"},
		{at: 72, scan: "ok", scanH: "n3"},
		{at: 121, scan: "ok", scanH: "n2", want: []string{"recovery map[] [n1/10 n2/20 n3/30]"}},
		{at: 122, scan: "ok", scanH: "n3"},
	})
	require.Zero(t, m.Jobs())
}

// The alert IDs of a fleet digest are each job's own: the same as the job's
// single alert and recovery would carry.
func TestMachineGroupByJobSources(t *testing.T) {
	m := New(fleetConfig([]string{}))
	runStep(m, step{at: 0, seen: []ps{stuck("n1", 10, 0)}, scan: "ok", scanH: "n1"})
	runStep(m, step{at: 1, seen: []ps{stuck("n2", 10, 1)}, scan: "ok", scanH: "n2"})
	runStep(m, step{at: 2, seen: []ps{stuck("n3", 10, 2)}, scan: "ok", scanH: "n3"})
	evs := runStep(m, step{at: 60, seen: []ps{stuck("n1", 10, 60)}, scan: "ok", scanH: "n1"})
	require.Len(t, evs, 1)
	require.Len(t, evs[0].Jobs, 2)
	for _, j := range evs[0].Jobs {
		require.Equal(t, sourceOf(hostOf(j.SourceTags)), j.Source)
	}
	require.NotEqual(t, AlertID(evs[0].Jobs[0].Source, evs[0].Jobs[0].Job), AlertID(evs[0].Jobs[1].Source, evs[0].Jobs[1].Job),
		"the same PID on two nodes is two jobs")
}

// group_by on a tag: each value its own group, each with its own window.
func TestMachineGroupByTag(t *testing.T) {
	m := New(fleetConfig([]string{"dc"}))
	obs := func(dc, host string, pid int64, s float64) []Event {
		tags := []Tag{{"dc", dc}, {"host", host}}
		src := SourceID(tags, tagKV)
		o := observation(stuck(host, pid, s), at(s))
		o.Source, o.SourceTags = src, append(tags, Tag{"pid", strconv.FormatInt(pid, 10)})
		evs := m.Observe(o)
		return append(evs, m.CloseScan(ScanResult{Source: src, Tags: tags, Time: at(s), OK: true})...)
	}
	require.Equal(t, []string{"alert a1/1 sent=1"}, describeFleet(obs("a", "a1", 1, 0)))
	require.Equal(t, []string{"alert b1/2 sent=1"}, describeFleet(obs("b", "b1", 2, 1)), "another dc: a quiet group of its own")
	require.Empty(t, obs("a", "a2", 3, 2))
	require.Empty(t, obs("a", "a3", 4, 3))
	require.Empty(t, obs("b", "b2", 5, 4))
	// The first scan after both windows ended sends what each group
	// holds: a's two as one digest, b's one alone.
	require.Equal(t, []string{"alert map[dc:a] [a2/3 a3/4]", "alert b2/5 sent=1"}, describeFleet(obs("b", "b1", 2, 61)))
	require.Empty(t, obs("a", "a1", 1, 62))
}

// The default (GroupBy nil) keeps every source on its own: a second node's
// first alert is not held by the first node's window.
func TestMachineGroupByDefaultPerSource(t *testing.T) {
	m := New(fleetConfig(nil))
	runFleetSteps(t, m, []step{
		{at: 0, seen: []ps{stuck("n1", 10, 0)}, scan: "ok", scanH: "n1", want: []string{"alert n1/10 sent=1"}},
		{at: 1, seen: []ps{stuck("n2", 20, 1)}, scan: "ok", scanH: "n2", want: []string{"alert n2/20 sent=1"}},
	})
}

// The group window survives a restart: a job held when the alerter died
// goes out with the group's next release, not at once.
func TestMachineGroupBySurvivesRestore(t *testing.T) {
	m := New(fleetConfig([]string{}))
	runStep(m, step{at: 0, seen: []ps{stuck("n1", 10, 0)}, scan: "ok", scanH: "n1"})
	runStep(m, step{at: 1, seen: []ps{stuck("n2", 20, 1)}, scan: "ok", scanH: "n2"})
	r := New(fleetConfig([]string{}))
	require.NoError(t, r.Restore(m.Snapshot()))
	runFleetSteps(t, r, []step{
		{at: 5, seen: []ps{stuck("n3", 30, 5)}, scan: "ok", scanH: "n3"},
		{at: 61, seen: []ps{stuck("n3", 30, 61)}, scan: "ok", scanH: "n3", want: []string{"alert map[] [n2/20 n3/30]"}},
	})
}

// The realerts of a fleet-wide incident come as its alerts did: the first
// due at once, the others joining the window it opens (none before its
// cooldown), cycle after cycle; a job that ends while its realert is held
// gets its recovery instead.
func TestMachineGroupByRealerts(t *testing.T) {
	m := New(fleetConfig([]string{}))
	scan := func(at float64, host string, pid int64) step {
		return step{at: at, seen: []ps{stuck(host, pid, at)}, scan: "ok", scanH: host}
	}
	runFleetSteps(t, m, []step{
		{at: 0, seen: []ps{stuck("n1", 10, 0)}, scan: "ok", scanH: "n1", want: []string{"alert n1/10 sent=1"}},
		scan(1, "n2", 20),
		scan(2, "n3", 30),
		withWant(scan(60, "n1", 10), "alert map[] [n2/20 n3/30]"),
		scan(999, "n1", 10),
		withWant(scan(1000, "n1", 10), "realert n1/10 sent=2"),
		// Due by the end of the window n1 opened: held until then.
		scan(1001, "n2", 20),
		scan(1002, "n3", 30),
		withWant(scan(1060, "n1", 10), "realert map[] [n2/20 n3/30]"),
		scan(1061, "n2", 20),
		withWant(scan(2000, "n1", 10), "realert n1/10 sent=3"),
		scan(2001, "n2", 20),
		scan(2002, "n3", 30),
		// n3 ends with its realert held: its recovery goes out instead.
		{at: 2030, scan: "ok", scanH: "n3"},
		withWant(scan(2060, "n2", 20), "realert n2/20 sent=3", "recovery n3/30 sent=2"),
	})
}

// A job's realert never comes before its cooldown, even to join a window:
// one whose cooldown ends after the window waits for its own.
func TestMachineGroupByRealertNotEarly(t *testing.T) {
	m := New(fleetConfig([]string{}))
	scan := func(at float64, host string, pid int64) step {
		return step{at: at, seen: []ps{stuck(host, pid, at)}, scan: "ok", scanH: host}
	}
	runFleetSteps(t, m, []step{
		{at: 0, seen: []ps{stuck("n1", 10, 0)}, scan: "ok", scanH: "n1", want: []string{"alert n1/10 sent=1"}},
		withWant(scan(100, "n2", 20), "alert n2/20 sent=1"),
		withWant(scan(1000, "n1", 10), "realert n1/10 sent=2"),
		// n2's cooldown ends at 1100, after the window (1060).
		scan(1001, "n2", 20),
		scan(1061, "n2", 20),
		scan(1099, "n2", 20),
		withWant(scan(1100, "n2", 20), "realert n2/20 sent=2"),
	})
}

func withWant(s step, want ...string) step {
	s.want = want
	return s
}

// A job acknowledged while its realert waits for the group's window is left
// out when the window releases the others'.
func TestMachineGroupByHeldRealertMuted(t *testing.T) {
	m := New(fleetConfig([]string{}))
	scan := func(at float64, host string, pid int64) step {
		return step{at: at, seen: []ps{stuck(host, pid, at)}, scan: "ok", scanH: host}
	}
	runFleetSteps(t, m, []step{
		{at: 0, seen: []ps{stuck("n1", 10, 0)}, scan: "ok", scanH: "n1", want: []string{"alert n1/10 sent=1"}},
		scan(1, "n2", 20),
		scan(2, "n3", 30),
		withWant(scan(60, "n1", 10), "alert map[] [n2/20 n3/30]"),
		withWant(scan(1000, "n1", 10), "realert n1/10 sent=2"),
		scan(1001, "n2", 20),
		scan(1002, "n3", 30),
	})
	_, ok := m.Act(Action{AlertID: AlertID(sourceOf("n2"), JobID{PID: 20, CreatedAt: at(-7200)}), Mute: Mute{Acked: true, By: "@bob", At: at(1003)}})
	require.True(t, ok)
	runFleetSteps(t, m, []step{
		withWant(scan(1060, "n1", 10), "realert n3/30 sent=2"),
	})
}
