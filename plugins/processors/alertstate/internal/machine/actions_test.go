package machine

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func jobAlertID(pid int64) string {
	return AlertID(sourceOf(""), JobID{PID: pid, CreatedAt: at(0)})
}

func TestSnoozeHoldsRealertsUntilItEnds(t *testing.T) {
	m := New(testConfig())
	runSteps(t, m, []step{
		{at: 0, seen: []ps{{pid: 7, age: 7200}}, scan: "ok", want: []string{"alert h1/7 sent=1"}},
	})
	ev, ok := m.Act(Action{AlertID: jobAlertID(7), Mute: Mute{Until: at(2500), By: "@alice", At: at(10)}})
	require.True(t, ok)
	require.Equal(t, int64(7), ev.Jobs[0].Head.PID)
	require.Equal(t, "@alice", ev.Jobs[0].Mute.By)
	require.True(t, m.Dirty())
	runSteps(t, m, []step{
		{at: 1000, seen: []ps{{pid: 7, age: 8200}}, scan: "ok"},
		{at: 2000, seen: []ps{{pid: 7, age: 9200}}, scan: "ok"},
		{at: 2500, seen: []ps{{pid: 7, age: 9700}}, scan: "ok", want: []string{"realert h1/7 sent=2"}},
	})
}

func TestAckHoldsRealertsButNotTheRecovery(t *testing.T) {
	m := New(testConfig())
	runSteps(t, m, []step{
		{at: 0, seen: []ps{{pid: 7, age: 7200}, {pid: 8, age: 7200}}, scan: "ok", want: []string{"alert h1/7 sent=1", "alert h1/8 sent=1"}},
	})
	_, ok := m.Act(Action{AlertID: jobAlertID(7), Mute: Mute{Acked: true, By: "@bob", At: at(1)}})
	require.True(t, ok)
	// A later snooze does not undo the ack.
	_, ok = m.Act(Action{AlertID: jobAlertID(7), Mute: Mute{Until: at(1500), By: "@carol", At: at(2)}})
	require.True(t, ok)
	runSteps(t, m, []step{
		{at: 1000, seen: []ps{{pid: 7, age: 8200}, {pid: 8, age: 8200}}, scan: "ok", want: []string{"realert h1/8 sent=2"}},
		{at: 5000, seen: []ps{{pid: 7, age: 12200}}, scan: "ok", want: []string{"recovery h1/8 sent=2"}},
		{at: 6000, scan: "ok", want: []string{"recovery h1/7 sent=1"}},
	})
	_, ok = m.Act(Action{AlertID: jobAlertID(7), Mute: Mute{Acked: true, By: "@bob"}})
	require.False(t, ok, "a recovered job is not found")
}

func TestMuteSurvivesSaveAndRestore(t *testing.T) {
	m := New(testConfig())
	runSteps(t, m, []step{
		{at: 0, seen: []ps{{pid: 7, age: 7200}}, scan: "ok", want: []string{"alert h1/7 sent=1"}},
	})
	_, ok := m.Act(Action{AlertID: jobAlertID(7), Mute: Mute{Until: at(5000), By: "@alice", At: at(10)}})
	require.True(t, ok)
	data, err := Encode(m.Snapshot())
	require.NoError(t, err)
	st, err := Decode(data)
	require.NoError(t, err)
	m2 := New(testConfig())
	require.NoError(t, m2.Restore(st))
	runSteps(t, m2, []step{
		{at: 1000, seen: []ps{{pid: 7, age: 8200}}, scan: "ok"},
		{at: 4999, seen: []ps{{pid: 7, age: 12199}}, scan: "ok"},
		{at: 5000, seen: []ps{{pid: 7, age: 12200}}, scan: "ok", want: []string{"realert h1/7 sent=2"}},
	})
	status := m2.Status()
	require.Len(t, status, 1)
	require.Equal(t, "@alice", status[0].Jobs[0].Mute.By)
}

func TestStatusListsHeldJobsPerSource(t *testing.T) {
	m := New(testConfig())
	require.Empty(t, m.Status())
	runSteps(t, m, []step{
		{at: 0, seen: []ps{{pid: 9, age: 7200}, {pid: 3, age: 7200}}, scan: "ok", want: []string{"alert h1/3 sent=1", "alert h1/9 sent=1"}},
		{at: 1, seen: []ps{{host: "h2", pid: 5, age: 7200}}, scan: "ok", scanH: "h2", want: []string{"alert h2/5 sent=1"}},
	})
	st := m.Status()
	require.Len(t, st, 2)
	require.Equal(t, []Tag{{"host", "h1"}}, st[0].Tags)
	require.Equal(t, []int64{3, 9}, []int64{st[0].Jobs[0].Head.PID, st[0].Jobs[1].Head.PID})
	require.Equal(t, int64(5), st[1].Jobs[0].Head.PID)
}
