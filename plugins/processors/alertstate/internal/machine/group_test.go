package machine

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func groupConfig() Config {
	cfg := testConfig()
	cfg.GroupInterval = time.Minute
	return cfg
}

// Alertmanager's group_wait 0 and group_interval: the first news of a quiet
// source goes out at once, more within group_interval wait for it to end.
func TestMachineGroupWindow(t *testing.T) {
	old := func(pid int64, s float64) ps { return ps{pid: pid, created: -7200, age: 7200 + s} }
	tests := []struct {
		name  string
		cfg   func(*Config)
		steps []step
	}{
		{
			name: "first alert at once, the next ones held until the window ends",
			steps: []step{
				{at: 0, seen: []ps{old(1, 0)}, scan: "ok", want: []string{"alert h1/1 sent=1"}},
				{at: 10, seen: []ps{old(1, 10), old(2, 10)}, scan: "ok"},
				{at: 30, seen: []ps{old(1, 30), old(2, 30), old(3, 30)}, scan: "ok"},
				{at: 50, seen: []ps{old(1, 50), old(2, 50), old(3, 50)}, scan: "ok"},
				{at: 60, seen: []ps{old(1, 60), old(2, 60), old(3, 60)}, scan: "ok", want: []string{"alert h1/2 sent=1", "alert h1/3 sent=1"}},
				// The window reopened at 60: 4 waits for 120.
				{at: 70, seen: []ps{old(1, 70), old(2, 70), old(3, 70), old(4, 70)}, scan: "ok"},
				{at: 120, seen: []ps{old(1, 120), old(2, 120), old(3, 120), old(4, 120)}, scan: "ok", want: []string{"alert h1/4 sent=1"}},
				// Nothing by 180: the source is quiet again, 5 goes out at once.
				{at: 200, seen: []ps{old(1, 200), old(2, 200), old(3, 200), old(4, 200), old(5, 200)}, scan: "ok", want: []string{"alert h1/5 sent=1"}},
			},
		},
		{
			name: "recoveries are held the same way; realerts are not",
			cfg:  func(c *Config) { c.Cooldown = 20 * time.Second },
			steps: []step{
				{at: 0, seen: []ps{old(1, 0), old(2, 0)}, scan: "ok", want: []string{"alert h1/1 sent=1", "alert h1/2 sent=1"}},
				{at: 10, seen: []ps{old(1, 10)}, scan: "ok"},
				{at: 20, seen: []ps{old(1, 20)}, scan: "ok", want: []string{"realert h1/1 sent=2"}},
				{at: 60, seen: []ps{old(1, 60)}, scan: "ok", want: []string{"realert h1/1 sent=3", "recovery h1/2 sent=1"}},
			},
		},
		{
			name: "a held alert whose job ends before the window does is sent with its recovery",
			steps: []step{
				{at: 0, seen: []ps{old(1, 0)}, scan: "ok", want: []string{"alert h1/1 sent=1"}},
				{at: 10, seen: []ps{old(1, 10), old(2, 10)}, scan: "ok"},
				{at: 20, seen: []ps{old(1, 20)}, scan: "ok"},
				{at: 60, seen: []ps{old(1, 60)}, scan: "ok", want: []string{"alert h1/2 sent=1", "recovery h1/2 sent=1"}},
			},
		},
		{
			name: "with send_recovery off a held alert is still sent",
			cfg:  func(c *Config) { c.SendRecovery = false },
			steps: []step{
				{at: 0, seen: []ps{old(1, 0)}, scan: "ok", want: []string{"alert h1/1 sent=1"}},
				{at: 10, seen: []ps{old(1, 10), old(2, 10)}, scan: "ok"},
				{at: 20, scan: "ok"},
				{at: 60, scan: "ok", want: []string{"alert h1/2 sent=1"}},
			},
		},
		{
			name: "a realert comes a cooldown after the alert was sent, not after it crossed",
			cfg:  func(c *Config) { c.Cooldown = 100 * time.Second },
			steps: []step{
				{at: 0, seen: []ps{old(1, 0)}, scan: "ok", want: []string{"alert h1/1 sent=1"}},
				{at: 10, seen: []ps{old(1, 10), old(2, 10)}, scan: "ok"},
				{at: 60, seen: []ps{old(1, 60), old(2, 60)}, scan: "ok", want: []string{"alert h1/2 sent=1"}},
				{at: 100, seen: []ps{old(1, 100), old(2, 100)}, scan: "ok", want: []string{"realert h1/1 sent=2"}},
				{at: 110, seen: []ps{old(1, 110), old(2, 110)}, scan: "ok"},
				{at: 160, seen: []ps{old(1, 160), old(2, 160)}, scan: "ok", want: []string{"realert h1/2 sent=2"}},
			},
		},
		{
			name: "another source's scans send what a silent source held",
			steps: []step{
				{at: 0, seen: []ps{{host: "a", pid: 1, age: 7200}}, scan: "ok", scanH: "a", want: []string{"alert a/1 sent=1"}},
				{at: 10, seen: []ps{{host: "a", pid: 1, age: 7210}, {host: "a", pid: 2, age: 7210}}, scan: "ok", scanH: "a"},
				// a falls silent; b's scan past a's window sends a's alert.
				{at: 50, scan: "ok", scanH: "b"},
				{at: 60, scan: "ok", scanH: "b", want: []string{"alert a/2 sent=1"}},
			},
		},
		{
			name: "a group interval of zero holds nothing",
			cfg:  func(c *Config) { c.GroupInterval = 0 },
			steps: []step{
				{at: 0, seen: []ps{old(1, 0)}, scan: "ok", want: []string{"alert h1/1 sent=1"}},
				{at: 1, seen: []ps{old(1, 1), old(2, 1)}, scan: "ok", want: []string{"alert h1/2 sent=1"}},
				{at: 1, seen: []ps{old(1, 1), old(2, 1)}, scan: "ok"},
				{at: 2, seen: []ps{old(2, 2)}, scan: "ok", want: []string{"recovery h1/1 sent=1"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := groupConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			runSteps(t, New(cfg), tt.steps)
		})
	}
}

// A burst: 300 jobs cross the threshold over 60 s of scans (an orchestrator
// died), then end over another 60 s. A handful of events carry all of them,
// each job in exactly one alert and one recovery.
func TestMachineBurstOf300(t *testing.T) {
	const n = 300
	m := New(groupConfig())
	type job struct{ crosses, ends float64 }
	jobs := make([]job, n)
	for i := range jobs {
		jobs[i] = job{crosses: float64(i) * 0.2, ends: 600 + float64(i)*0.2}
	}
	alerted := map[int64]int{}
	recovered := map[int64]int{}
	var kinds []string
	var last float64
	for s := 0.0; s <= 800; s += 5 {
		var seen []ps
		for i, j := range jobs {
			if s < j.ends {
				// Crosses the 1h threshold at j.crosses.
				seen = append(seen, ps{pid: int64(1000 + i), created: -3600, age: 3600 + s - j.crosses})
			}
		}
		evs := runStep(m, step{at: s, seen: seen, scan: "ok"})
		for _, e := range evs {
			kinds = append(kinds, fmt.Sprintf("%s@%.0f:%d", e.Kind, s, len(e.Jobs)))
			for _, j := range e.Jobs {
				switch e.Kind {
				case KindAlert:
					alerted[j.Job.PID]++
				case KindRecovery:
					recovered[j.Job.PID]++
				default:
					t.Fatalf("unexpected %s", e.Kind)
				}
			}
			last = s
		}
	}
	t.Logf("events: %v", kinds)
	require.LessOrEqual(t, len(kinds), 6, "a handful of events: %v", kinds)
	require.Len(t, alerted, n)
	require.Len(t, recovered, n)
	for i := range n {
		pid := int64(1000 + i)
		require.Equal(t, 1, alerted[pid], "alerts of %d", pid)
		require.Equal(t, 1, recovered[pid], "recoveries of %d", pid)
	}
	require.LessOrEqual(t, last, 600+60+60.0, "the last recovery within a minute of the last end")
	require.Zero(t, m.Jobs())
}

// A restart while alerts and recoveries are held (the state file is written
// after every change): the new machine sends them once the window ends.
func TestMachineHeldSurviveRestart(t *testing.T) {
	m := New(groupConfig())
	old := func(pid int64, s float64) ps { return ps{pid: pid, created: -7200, age: 7200 + s} }
	runSteps(t, m, []step{
		{at: 0, seen: []ps{old(1, 0), old(2, 0)}, scan: "ok", want: []string{"alert h1/1 sent=1", "alert h1/2 sent=1"}},
		{at: 10, seen: []ps{old(1, 10), old(3, 10), old(4, 10)}, scan: "ok"},
	})
	st := m.Snapshot()
	require.Len(t, st.Sources, 1)
	require.Len(t, st.Sources[0].Recovered, 1, "2's recovery is held")
	require.Equal(t, []int64{1, 0, 0}, alertsSent(st.Sources[0].Jobs), "1 alerted; 3 and 4's alerts are held")
	data, err := Encode(st)
	require.NoError(t, err)

	// SIGKILL here; the next start loads the file.
	loaded, err := Decode(data)
	require.NoError(t, err)
	r := New(groupConfig())
	require.NoError(t, r.Restore(loaded))
	runSteps(t, r, []step{
		{at: 20, seen: []ps{old(1, 20), old(3, 20)}, scan: "ok"},
		{at: 60, seen: []ps{old(1, 60), old(3, 60)}, scan: "ok", want: []string{"alert h1/3 sent=1", "alert h1/4 sent=1", "recovery h1/2 sent=1", "recovery h1/4 sent=1"}},
		{at: 70, seen: []ps{old(1, 70), old(3, 70)}, scan: "ok"},
	})
}

func alertsSent(js []JobState) []int64 {
	var out []int64
	for _, j := range js {
		out = append(out, j.AlertsSent)
	}
	return out
}

// A source not heard from for forget_after is dropped with its jobs, and
// said so; a restart does not count as silence.
func TestMachineForget(t *testing.T) {
	var notices []Notice
	cfg := groupConfig()
	cfg.ForgetAfter = 24 * time.Hour
	cfg.Notify = func(n Notice) { notices = append(notices, n) }
	m := New(cfg)
	runSteps(t, m, []step{
		{at: 0, seen: []ps{{host: "old", pid: 1, age: 7200}, {host: "old", pid: 2, age: 7200}}, scan: "ok", scanH: "old", want: []string{"alert old/1 sent=1", "alert old/2 sent=1"}},
		{at: 0, seen: []ps{{host: "new", pid: 1, age: 7200}}, scan: "ok", scanH: "new", want: []string{"alert new/1 sent=1"}},
		// "old" is a container recreated under another name: never heard of again.
		{at: 86400, seen: []ps{{host: "new", pid: 1, age: 93600}}, scan: "ok", scanH: "new", want: []string{"realert new/1 sent=2"}},
	})
	require.Empty(t, notices)
	require.Equal(t, 3, m.Jobs())
	runSteps(t, m, []step{
		{at: 86401, seen: []ps{{host: "new", pid: 1, age: 93601}}, scan: "ok", scanH: "new"},
	})
	require.Equal(t, []Notice{{Kind: NoticeForgotten, SourceTags: hostTags("old"), Jobs: 2, By: 86401 * time.Second}}, notices)
	require.Equal(t, 1, m.Jobs())
	require.Len(t, m.Snapshot().Sources, 1)

	// Restored after a long stop: the downtime is not silence.
	st := m.Snapshot()
	notices = nil
	r := New(cfg)
	require.NoError(t, r.Restore(st))
	runSteps(t, r, []step{
		{at: 10 * 86400, scan: "ok", scanH: "other"},
		{at: 10*86400 + 10, seen: []ps{{host: "new", pid: 1, age: 10*86400 + 7210}}, scan: "ok", scanH: "new", want: []string{"realert new/1 sent=3"}},
	})
	require.Empty(t, notices)
	require.Equal(t, 1, r.Jobs())
}

// A state whose times lie a day in the future (a clock stepped back, a VM
// restored from a snapshot): taken as now, once logged, so the realert
// comes one cooldown later rather than a day and a cooldown later.
func TestMachineStoredTimesInTheFuture(t *testing.T) {
	day := int64(24 * time.Hour)
	st := State{Version: Version, Sources: []SourceState{{
		Tags:        map[string]string{"host": "h1"},
		LastHeardAt: at(0) + day,
		WindowEnd:   at(60) + day,
		Jobs: []JobState{{
			PID: 7, CreatedAt: at(-7200),
			Head:       ProcState{PID: 7, CreatedAt: at(-7200), AgeSeconds: 7200 + 86400, Pattern: "pytest"},
			AlertsSent: 1, FirstAlertAt: at(0) + day, LastAlertAt: at(0) + day, LastSeenAt: at(0) + day,
		}},
	}}}
	var notices []Notice
	cfg := groupConfig()
	cfg.Notify = func(n Notice) { notices = append(notices, n) }
	m := New(cfg)
	require.NoError(t, m.Restore(st))
	seven := func(s float64) []ps { return []ps{{pid: 7, created: -7200, age: 7200 + s}} }
	runSteps(t, m, []step{
		{at: 0, seen: seven(0), scan: "ok"},
		{at: 10, seen: seven(10), scan: "ok"},
		{at: 999, seen: seven(999), scan: "ok"},
		{at: 1000, seen: seven(1000), scan: "ok", want: []string{"realert h1/7 sent=2"}},
		// A new job is not held by the window stored a day ahead.
		{at: 1070, seen: append(seven(1070), ps{pid: 8, created: -7200, age: 8270}), scan: "ok", want: []string{"alert h1/8 sent=1"}},
	})
	require.Len(t, notices, 1, "logged once per episode")
	require.Equal(t, NoticeClockBack, notices[0].Kind)
	require.Equal(t, 24*time.Hour, notices[0].By)
	st = m.Snapshot()
	require.Equal(t, at(0), st.Sources[0].Jobs[0].FirstAlertAt, "the first alert taken as now")
}

// Counters at their maximum saturate instead of wrapping.
func TestMachineCountersSaturate(t *testing.T) {
	st := State{Version: Version, Sources: []SourceState{{
		Tags:        map[string]string{"host": "h1"},
		FailedScans: int(^uint(0) >> 1),
		Jobs: []JobState{{
			PID: 7, CreatedAt: at(-7200), Head: ProcState{PID: 7, CreatedAt: at(-7200), AgeSeconds: 7200},
			AlertsSent: 1<<63 - 1, FirstAlertAt: at(0), LastAlertAt: at(0), LastSeenAt: at(0),
		}},
	}}}
	m := New(testConfig())
	require.NoError(t, m.Restore(st))
	evs := runStep(m, step{at: 500, seen: []ps{{pid: 7, created: -7200, age: 7700}}, scan: "fail"})
	require.Equal(t, []string{"scan_failed h1 n=9223372036854775807 err=open /proc: permission denied"}, describe(evs))
	evs = runStep(m, step{at: 2000, seen: []ps{{pid: 7, created: -7200, age: 9200}}, scan: "ok"})
	require.Equal(t, []string{"scan_recovered h1 n=9223372036854775807", "realert h1/7 sent=9223372036854775807"}, describe(evs))
	st = m.Snapshot()
	require.Equal(t, int64(1<<63-1), st.Sources[0].Jobs[0].AlertsSent)
}

func TestMachineSnapshotOrder(t *testing.T) {
	m := New(testConfig())
	for _, h := range []string{"c", "a", "b"} {
		runStep(m, step{at: 0, seen: []ps{{host: h, pid: 9, age: 7200}, {host: h, pid: 3, age: 7200}}, scan: "ok", scanH: h})
	}
	st := m.Snapshot()
	var got []string
	for _, s := range st.Sources {
		for _, j := range s.Jobs {
			got = append(got, fmt.Sprintf("%s/%d", s.Tags["host"], j.PID))
		}
	}
	require.Equal(t, []string{"a/3", "a/9", "b/3", "b/9", "c/3", "c/9"}, got)
	require.True(t, slices.Equal(got, got))
}
