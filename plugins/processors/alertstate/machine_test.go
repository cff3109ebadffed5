package alertstate

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// proc spec for a step: a process of host src with a pid, a start time
// (seconds after t0, may be negative) and an age.
type ps struct {
	host    string
	pid     int64
	created int64
	age     float64
}

type step struct {
	at   float64 // seconds after t0
	seen []ps
	// scan: "ok", "fail" or "" (no scan metric: the observations stay pending)
	scan  string
	scanH string // host of the scan; "h1" when empty
	want  []string
}

func procTags(p ps) []Tag {
	host := p.host
	if host == "" {
		host = "h1"
	}
	return []Tag{{"host", host}, {"pattern", "pytest"}, {"pid", strconv.FormatInt(p.pid, 10)}}
}

func observation(p ps, at time.Time) Observation {
	tags := procTags(p)
	series, src := HashTags(tags)
	return Observation{
		Source: src,
		Key:    ProcKey{Series: series, CreatedAt: p.created},
		Time:   at,
		Age:    p.age,
		Tags:   tags,
		Info:   ProcInfo{PID: p.pid, PPID: 1, Orphan: true, CPUSeconds: 10, Cmdline: "python3 -m pytest tests/"},
	}
}

func scanResult(host string, at time.Time, ok bool) ScanResult {
	if host == "" {
		host = "h1"
	}
	tags := []Tag{{"host", host}}
	_, src := HashTags(tags)
	r := ScanResult{Source: src, Tags: tags, Time: at, OK: ok}
	if !ok {
		r.Error = "open /proc: permission denied"
	}
	return r
}

// describe renders events compactly so a table can say what it expects.
func describe(evs []Event) []string {
	var out []string
	for _, e := range evs {
		switch {
		case e.Kind == KindScanFailed:
			out = append(out, fmt.Sprintf("scan_failed n=%d err=%s", e.Failures, e.Error))
		case e.Kind == KindScanRecovered:
			out = append(out, fmt.Sprintf("scan_recovered n=%d", e.Failures))
		case e.Digest():
			out = append(out, fmt.Sprintf("%s count=%d", e.Kind, e.Count))
		default:
			p := e.Procs[0]
			host := ""
			for _, t := range p.Tags {
				if t.Key == "host" {
					host = t.Value
				}
			}
			out = append(out, fmt.Sprintf("%s %s/%d sent=%d", e.Kind, host, p.Info.PID, p.AlertsSent))
		}
	}
	return out
}

func runStep(m *Machine, s step) []Event {
	at := t0.Add(time.Duration(s.at * float64(time.Second)))
	var evs []Event
	for _, p := range s.seen {
		evs = append(evs, m.Observe(observation(p, at))...)
	}
	switch s.scan {
	case "ok":
		evs = append(evs, m.Close(scanResult(s.scanH, at, true))...)
	case "fail":
		evs = append(evs, m.Close(scanResult(s.scanH, at, false))...)
	}
	return evs
}

func testConfig() MachineConfig {
	return MachineConfig{
		Threshold:              time.Hour,
		Cooldown:               1000 * time.Second,
		SendRecovery:           true,
		DigestAfter:            5,
		FailedScansBeforeAlert: 3,
	}
}

func TestMachine(t *testing.T) {
	const th = 3600.0
	tests := []struct {
		name  string
		cfg   func(*MachineConfig)
		steps []step
	}{
		{
			name: "TC-01 a long-lived process alerts once",
			steps: []step{
				{at: 0, seen: []ps{{pid: 4242, age: 7200}}, scan: "ok", want: []string{"alert h1/4242 sent=1"}},
			},
		},
		{
			name: "TC-02 below and at the threshold is quiet, strictly above alerts",
			steps: []step{
				{at: 0, seen: []ps{{pid: 1, age: 600}}, scan: "ok"},
				{at: 10, seen: []ps{{pid: 1, age: th}}, scan: "ok"},
				{at: 11, seen: []ps{{pid: 1, age: th + 1}}, scan: "ok", want: []string{"alert h1/1 sent=1"}},
			},
		},
		{
			name: "TC-05 alert, quiet within cooldown, realert, recovery, then nothing",
			steps: []step{
				{at: 0, seen: []ps{{pid: 7, age: 7200}}, scan: "ok", want: []string{"alert h1/7 sent=1"}},
				{at: 100, seen: []ps{{pid: 7, age: 7300}}, scan: "ok"},
				{at: 1100, seen: []ps{{pid: 7, age: 8300}}, scan: "ok", want: []string{"realert h1/7 sent=2"}},
				{at: 1200, scan: "ok", want: []string{"recovery h1/7 sent=2"}},
				{at: 1300, scan: "ok"},
			},
		},
		{
			name: "realert exactly at the end of the cooldown, and the cooldown restarts",
			steps: []step{
				{at: 0, seen: []ps{{pid: 7, age: 7200}}, scan: "ok", want: []string{"alert h1/7 sent=1"}},
				{at: 999, seen: []ps{{pid: 7, age: 8199}}, scan: "ok"},
				{at: 1000, seen: []ps{{pid: 7, age: 8200}}, scan: "ok", want: []string{"realert h1/7 sent=2"}},
				{at: 1999, seen: []ps{{pid: 7, age: 9199}}, scan: "ok"},
				{at: 2000, seen: []ps{{pid: 7, age: 9200}}, scan: "ok", want: []string{"realert h1/7 sent=3"}},
			},
		},
		{
			name: "a process back at the threshold (not above) recovers",
			steps: []step{
				{at: 0, seen: []ps{{pid: 7, age: 7200}}, scan: "ok", want: []string{"alert h1/7 sent=1"}},
				{at: 10, seen: []ps{{pid: 7, age: th}}, scan: "ok", want: []string{"recovery h1/7 sent=1"}},
				{at: 20, seen: []ps{{pid: 7, age: 20}}, scan: "ok"},
			},
		},
		{
			name: "a process that vanishes before it was alerted is dropped silently",
			steps: []step{
				{at: 0, seen: []ps{{pid: 7, age: 100}}, scan: "ok"},
				{at: 10, scan: "ok"},
			},
		},
		{
			name: "send_recovery=false drops the state without an event",
			cfg:  func(c *MachineConfig) { c.SendRecovery = false },
			steps: []step{
				{at: 0, seen: []ps{{pid: 7, age: 7200}}, scan: "ok", want: []string{"alert h1/7 sent=1"}},
				{at: 10, scan: "ok"},
				{at: 20, seen: []ps{{pid: 7, age: 7220}}, scan: "ok", want: []string{"alert h1/7 sent=1"}},
			},
		},
		{
			name: "PID reuse: another start time is another process, the old one recovers",
			steps: []step{
				{at: 0, seen: []ps{{pid: 7, created: -7200, age: 7200}}, scan: "ok", want: []string{"alert h1/7 sent=1"}},
				{at: 10, seen: []ps{{pid: 7, created: 5, age: 5}}, scan: "ok", want: []string{"recovery h1/7 sent=1"}},
				{at: 20, seen: []ps{{pid: 7, created: 5, age: 15}}, scan: "ok"},
			},
		},
		{
			name: "PID reuse by an old process: recovery of the first and alert of the second in one scan",
			steps: []step{
				{at: 0, seen: []ps{{pid: 7, created: -7200, age: 7200}}, scan: "ok", want: []string{"alert h1/7 sent=1"}},
				{at: 10, seen: []ps{{pid: 7, created: -9000, age: 9010}}, scan: "ok", want: []string{"alert h1/7 sent=1", "recovery h1/7 sent=1"}},
			},
		},
		{
			name: "out-of-order observations are ignored, equal timestamps are fine",
			steps: []step{
				{at: 100, seen: []ps{{pid: 7, age: 7200}}, scan: "ok", want: []string{"alert h1/7 sent=1"}},
				// Older than what decided: would recover (age under the
				// threshold) or realert (cooldown) if it counted.
				{at: 50, seen: []ps{{pid: 7, age: 10}}, scan: "ok"},
				{at: -5000, seen: []ps{{pid: 7, age: 7200}}, scan: "ok"},
				{at: 100, seen: []ps{{pid: 7, age: 7200}}, scan: "ok"},
				{at: 1100, seen: []ps{{pid: 7, age: 8200}}, scan: "ok", want: []string{"realert h1/7 sent=2"}},
			},
		},
		{
			name: "failed scans: no recovery, one scan_failed after three, one scan_recovered",
			steps: []step{
				{at: 0, seen: []ps{{pid: 7, age: 7200}}, scan: "ok", want: []string{"alert h1/7 sent=1"}},
				{at: 10, scan: "fail"},
				{at: 20, scan: "fail"},
				{at: 30, scan: "fail", want: []string{"scan_failed n=3 err=open /proc: permission denied"}},
				{at: 40, scan: "fail"},
				{at: 50, scan: "fail"},
				{at: 60, seen: []ps{{pid: 7, age: 7260}}, scan: "ok", want: []string{"scan_recovered n=5"}},
				{at: 70, scan: "ok", want: []string{"recovery h1/7 sent=1"}},
			},
		},
		{
			name: "failures shorter than the streak say nothing and reset",
			steps: []step{
				{at: 10, scan: "fail"},
				{at: 20, scan: "fail"},
				{at: 30, scan: "ok"},
				{at: 40, scan: "fail"},
				{at: 50, scan: "fail"},
				{at: 60, scan: "ok"},
			},
		},
		{
			name: "two sources do not disturb each other",
			steps: []step{
				{at: 0, seen: []ps{{host: "a", pid: 7, age: 7200}}, scan: "ok", scanH: "a", want: []string{"alert a/7 sent=1"}},
				{at: 0, seen: []ps{{host: "b", pid: 7, age: 7200}}, scan: "ok", scanH: "b", want: []string{"alert b/7 sent=1"}},
				// b scans without 7: only b's recovers; a's scan is still open.
				{at: 10, seen: []ps{{host: "a", pid: 7, age: 7210}}},
				{at: 10, scan: "ok", scanH: "b", want: []string{"recovery b/7 sent=1"}},
				{at: 10, scan: "ok", scanH: "a"},
				{at: 20, scan: "fail", scanH: "a"},
				{at: 30, scan: "fail", scanH: "a"},
				{at: 40, scan: "fail", scanH: "a", want: []string{"scan_failed n=3 err=open /proc: permission denied"}},
				{at: 40, scan: "ok", scanH: "b"},
				{at: 50, scan: "ok", scanH: "a", want: []string{"scan_recovered n=3", "recovery a/7 sent=1"}},
			},
		},
		{
			name: "an input without scan metrics: pending events flush on a newer timestamp, no recovery",
			steps: []step{
				{at: 0, seen: []ps{{pid: 7, age: 7200}}},
				{at: 0, seen: []ps{{pid: 8, age: 7200}}},
				{at: 10, seen: []ps{{pid: 8, age: 7210}}, want: []string{"alert h1/7 sent=1", "alert h1/8 sent=1"}},
				{at: 2000, seen: []ps{{pid: 8, age: 9200}}},
				{at: 3000, seen: []ps{{pid: 8, age: 10200}}, want: []string{"realert h1/8 sent=2"}},
			},
		},
		{
			name: "clock steps back one hour: no alert, no recovery",
			steps: []step{
				{at: 0, seen: []ps{{pid: 7, created: -7200, age: 7200}, {pid: 8, created: -4000, age: 4000}}, scan: "ok",
					want: []string{"alert h1/7 sent=1", "alert h1/8 sent=1"}},
				// The input computes ages from its clock: an hour less.
				{at: -3600, seen: []ps{{pid: 7, created: -7200, age: 3600}, {pid: 8, created: -4000, age: 400}}, scan: "ok"},
				{at: -3590, seen: []ps{{pid: 7, created: -7200, age: 3610}, {pid: 8, created: -4000, age: 410}}, scan: "ok"},
				{at: 10, seen: []ps{{pid: 7, created: -7200, age: 7210}, {pid: 8, created: -4000, age: 4010}}, scan: "ok"},
			},
		},
		{
			name: "clock steps forward one day: one realert each, digested when many",
			steps: []step{
				{at: 0, seen: []ps{{pid: 1, age: 7200}, {pid: 2, age: 7200}}, scan: "ok", want: []string{"alert h1/1 sent=1", "alert h1/2 sent=1"}},
				{at: 86400, seen: []ps{{pid: 1, age: 93600}, {pid: 2, age: 93600}}, scan: "ok", want: []string{"realert h1/1 sent=2", "realert h1/2 sent=2"}},
				{at: 86410, seen: []ps{{pid: 1, age: 93610}, {pid: 2, age: 93610}}, scan: "ok"},
				// And back to the right time: ignored until the clock catches up.
				{at: 20, seen: []ps{{pid: 1, age: 7220}, {pid: 2, age: 7220}}, scan: "ok"},
			},
		},
		{
			name: "a non-finite age is ignored rather than taken as under the threshold",
			steps: []step{
				{at: 0, seen: []ps{{pid: 7, age: 7200}}, scan: "ok", want: []string{"alert h1/7 sent=1"}},
				{at: 10, seen: []ps{{pid: 7, age: nan()}}},
				{at: 20, seen: []ps{{pid: 7, age: 7220}}, scan: "ok"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			m := NewMachine(cfg)
			for i, s := range tt.steps {
				got := describe(runStep(m, s))
				require.Equal(t, s.want, got, "step %d (at %vs)", i, s.at)
			}
		})
	}
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

func TestMachineDigest(t *testing.T) {
	for _, n := range []int{6, 50, 2000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			m := NewMachine(testConfig())
			var seen []ps
			for i := range n {
				seen = append(seen, ps{pid: int64(1000 + i), age: 7200})
			}
			evs := runStep(m, step{at: 0, seen: seen, scan: "ok"})
			require.Equal(t, []string{fmt.Sprintf("alert count=%d", n)}, describe(evs))
			require.Len(t, evs[0].Procs, n)
			require.Equal(t, n, m.Tracked(), "per-process state for each")

			// Within the cooldown: nothing; all gone: one recovery digest.
			require.Empty(t, runStep(m, step{at: 10, seen: seen, scan: "ok"}))
			evs = runStep(m, step{at: 20, scan: "ok"})
			require.Equal(t, []string{fmt.Sprintf("recovery count=%d", n)}, describe(evs))
			require.Zero(t, m.Tracked())
		})
	}
	t.Run("exactly digest_after stays single events", func(t *testing.T) {
		m := NewMachine(testConfig())
		var seen []ps
		for i := range 5 {
			seen = append(seen, ps{pid: int64(i + 1), age: 7200})
		}
		require.Len(t, runStep(m, step{at: 0, seen: seen, scan: "ok"}), 5)
	})
}

func TestHashTagsSource(t *testing.T) {
	series1, src1 := HashTags([]Tag{{"host", "a"}, {"pattern", "pytest"}, {"pid", "1"}})
	series2, src2 := HashTags([]Tag{{"host", "a"}, {"pattern", "pytest"}, {"pid", "2"}})
	_, scanSrc := HashTags([]Tag{{"host", "a"}})
	_, otherSrc := HashTags([]Tag{{"host", "b"}})
	require.NotEqual(t, series1, series2)
	require.Equal(t, src1, src2)
	require.Equal(t, src1, scanSrc)
	require.NotEqual(t, scanSrc, otherSrc)
	// Key and value boundaries matter.
	a, _ := HashTags([]Tag{{"ab", "c"}})
	b, _ := HashTags([]Tag{{"a", "bc"}})
	require.NotEqual(t, a, b)
}
