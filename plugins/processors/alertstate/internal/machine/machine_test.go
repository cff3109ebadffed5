package machine

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// ps is one process of a step: of host (h1 when empty), with a pid, a start
// time in seconds after t0 (may be negative) and an age. job and jobCreated
// name the top of its job; job 0 makes the process its own top.
type ps struct {
	host       string
	pid        int64
	created    int64
	age        float64
	job        int64
	jobCreated int64
	noOrphan   bool // the orphan state is unknown
}

type step struct {
	at   float64 // seconds after t0
	seen []ps
	// scan: "ok", "fail" or "" (no scan metric: the observations stay pending)
	scan  string
	scanH string // host of the scan; "h1" when empty
	want  []string
}

func hostTags(host string) []Tag {
	if host == "" {
		host = "h1"
	}
	return []Tag{{"host", host}}
}

func sourceOf(host string) uint64 { return SourceID(hostTags(host), tagKV) }

func at(s float64) int64 { return t0.Add(time.Duration(s * float64(time.Second))).UnixNano() }

func observation(p ps, t int64) Observation {
	job := JobID{PID: p.pid, CreatedAt: at(float64(p.created))}
	jobAge := p.age
	if p.job != 0 {
		job = JobID{PID: p.job, CreatedAt: at(float64(p.jobCreated))}
		jobAge = p.age + float64(p.created-p.jobCreated)
	}
	return Observation{
		Source:     sourceOf(p.host),
		Job:        job,
		Time:       t,
		JobAge:     jobAge,
		Top:        job.PID == p.pid,
		SourceTags: append(hostTags(p.host), Tag{"pattern", "pytest"}, Tag{"pid", strconv.FormatInt(p.pid, 10)}),
		Proc: Proc{
			PID: p.pid, PPID: 1, CreatedAt: at(float64(p.created)), Age: p.age, Orphan: !p.noOrphan, OrphanKnown: !p.noOrphan,
			CPUSeconds: 10, Pattern: "pytest", Cmdline: "python3 -m pytest tests/" + strconv.FormatInt(p.pid, 10),
		},
	}
}

func scanResult(host string, t int64, ok bool) ScanResult {
	r := ScanResult{Source: sourceOf(host), Tags: hostTags(host), Time: t, OK: ok}
	if !ok {
		r.Error = "open /proc: permission denied"
	}
	return r
}

// describe renders events compactly so that a table can say what it
// expects: "alert h1/7+8,9 sent=1" is an alert of the job named by PID 7
// with 8 and 9 as its other processes.
func describe(evs []Event) []string {
	var out []string
	for _, e := range evs {
		host := ""
		for _, t := range e.SourceTags {
			if t.Key == "host" {
				host = t.Value
			}
		}
		switch {
		case e.Kind == KindScanFailed:
			out = append(out, fmt.Sprintf("scan_failed %s n=%d err=%s", host, e.Failures, e.Error))
		case e.Kind == KindScanRecovered:
			out = append(out, fmt.Sprintf("scan_recovered %s n=%d", host, e.Failures))
		case e.Digest():
			out = append(out, fmt.Sprintf("%s %s count=%d", e.Kind, host, len(e.Jobs)))
		default:
			j := e.Jobs[0]
			name := strconv.FormatInt(j.Head.PID, 10)
			var others []string
			for _, o := range j.Others {
				others = append(others, strconv.FormatInt(o.PID, 10))
			}
			if len(others) > 0 {
				name += "+" + strings.Join(others, ",")
			}
			out = append(out, fmt.Sprintf("%s %s/%s sent=%d", e.Kind, host, name, j.AlertsSent))
		}
	}
	return out
}

func runStep(m *Machine, s step) []Event {
	t := at(s.at)
	var evs []Event
	for _, p := range s.seen {
		evs = append(evs, m.Observe(observation(p, t))...)
	}
	switch s.scan {
	case "ok":
		evs = append(evs, m.CloseScan(scanResult(s.scanH, t, true))...)
	case "fail":
		evs = append(evs, m.CloseScan(scanResult(s.scanH, t, false))...)
	}
	return evs
}

func testConfig() Config {
	return Config{
		Threshold:              time.Hour,
		Cooldown:               1000 * time.Second,
		SendRecovery:           true,
		DigestAfter:            5,
		FailedScansBeforeAlert: 3,
		ForgetAfter:            7 * 24 * time.Hour,
	}
}

func runSteps(t *testing.T, m *Machine, steps []step) {
	t.Helper()
	for i, s := range steps {
		require.Equal(t, s.want, describe(runStep(m, s)), "step %d (at %vs)", i, s.at)
	}
}

func TestMachine(t *testing.T) {
	const th = 3600.0
	tests := []struct {
		name  string
		cfg   func(*Config)
		steps []step
	}{
		{
			name: "TC-01 a long-lived process alerts once",
			steps: []step{
				{at: 0, seen: []ps{{pid: 4242, age: 7200}}, scan: "ok", want: []string{"alert h1/4242 sent=1"}},
				{at: 10, seen: []ps{{pid: 4242, age: 7210}}, scan: "ok"},
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
			name: "a job back at the threshold (not above) recovers",
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
			cfg:  func(c *Config) { c.SendRecovery = false },
			steps: []step{
				{at: 0, seen: []ps{{pid: 7, age: 7200}}, scan: "ok", want: []string{"alert h1/7 sent=1"}},
				{at: 10, scan: "ok"},
				{at: 20, seen: []ps{{pid: 7, age: 7220}}, scan: "ok", want: []string{"alert h1/7 sent=1"}},
			},
		},
		{
			name: "PID reuse: another start time is another job, the old one recovers",
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
			name: "failed scans: no recovery, one scan_failed after three, one scan_recovered",
			steps: []step{
				{at: 0, seen: []ps{{pid: 7, age: 7200}}, scan: "ok", want: []string{"alert h1/7 sent=1"}},
				{at: 10, scan: "fail"},
				{at: 20, scan: "fail"},
				{at: 30, scan: "fail", want: []string{"scan_failed h1 n=3 err=open /proc: permission denied"}},
				{at: 40, scan: "fail"},
				{at: 50, scan: "fail"},
				{at: 60, seen: []ps{{pid: 7, age: 7260}}, scan: "ok", want: []string{"scan_recovered h1 n=5"}},
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
				{at: 40, scan: "fail", scanH: "a", want: []string{"scan_failed a n=3 err=open /proc: permission denied"}},
				{at: 40, scan: "ok", scanH: "b"},
				{at: 50, scan: "ok", scanH: "a", want: []string{"scan_recovered a n=3", "recovery a/7 sent=1"}},
			},
		},
		{
			name: "an input without scan metrics: pending events are decided on a newer timestamp, no recovery",
			steps: []step{
				{at: 0, seen: []ps{{pid: 7, age: 7200}}},
				{at: 0, seen: []ps{{pid: 8, age: 7200}}},
				{at: 10, seen: []ps{{pid: 8, age: 7210}}, want: []string{"alert h1/7 sent=1", "alert h1/8 sent=1"}},
				{at: 2000, seen: []ps{{pid: 8, age: 9200}}},
				{at: 3000, seen: []ps{{pid: 8, age: 10200}}, want: []string{"realert h1/8 sent=2"}},
			},
		},
		{
			name: "a non-finite age is ignored rather than taken as under the threshold",
			steps: []step{
				{at: 0, seen: []ps{{pid: 7, age: 7200}}, scan: "ok", want: []string{"alert h1/7 sent=1"}},
				{at: 10, seen: []ps{{pid: 7, age: math.NaN()}}},
				{at: 20, seen: []ps{{pid: 7, age: 7220}}, scan: "ok"},
			},
		},
		{
			name: "clock steps forward one day: one realert each, digested when many",
			steps: []step{
				{at: 0, seen: []ps{{pid: 1, age: 7200}, {pid: 2, age: 7200}}, scan: "ok", want: []string{"alert h1/1 sent=1", "alert h1/2 sent=1"}},
				{at: 86400, seen: []ps{{pid: 1, age: 93600}, {pid: 2, age: 93600}}, scan: "ok", want: []string{"realert h1/1 sent=2", "realert h1/2 sent=2"}},
				{at: 86410, seen: []ps{{pid: 1, age: 93610}, {pid: 2, age: 93610}}, scan: "ok"},
			},
		},
		{
			// The ages come from /proc, whose boot time follows the clock:
			// they keep growing while the timestamps jump back.
			name: "clock steps back one day: a realert at most one cooldown later, no recovery",
			steps: []step{
				{at: 0, seen: []ps{{pid: 7, created: -7200, age: 7200}}, scan: "ok", want: []string{"alert h1/7 sent=1"}},
				{at: -86400 + 10, seen: []ps{{pid: 7, created: -7200, age: 7210}}, scan: "ok"},
				{at: -86400 + 1009, seen: []ps{{pid: 7, created: -7200, age: 8209}}, scan: "ok"},
				{at: -86400 + 1010, seen: []ps{{pid: 7, created: -7200, age: 8210}}, scan: "ok", want: []string{"realert h1/7 sent=2"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			runSteps(t, New(cfg), tt.steps)
		})
	}
}

// One alert per job: a wrapper and the processes under it that match too.
func TestMachineJobs(t *testing.T) {
	// 10 is `timeout 600 sh -c "pytest"`, 11 the sh, 12 the pytest; all
	// started about two hours ago, the pytest two minutes after the rest.
	wrapper := ps{pid: 10, created: -7200, age: 7200}
	shell := ps{pid: 11, created: -7199, age: 7199, job: 10, jobCreated: -7200}
	pytest := ps{pid: 12, created: -7080, age: 7080, job: 10, jobCreated: -7200}
	later := func(p ps, s float64) ps { p.age += s; return p }
	tests := []struct {
		name  string
		cfg   func(*Config)
		steps []step
	}{
		{
			name: "one alert names the top and lists the others, in any order of metrics",
			steps: []step{
				{at: 0, seen: []ps{pytest, wrapper, shell}, scan: "ok", want: []string{"alert h1/10+11,12 sent=1"}},
				{at: 10, seen: []ps{later(shell, 10), later(pytest, 10), later(wrapper, 10)}, scan: "ok"},
				{at: 1000, seen: []ps{later(wrapper, 1000), later(shell, 1000), later(pytest, 1000)}, scan: "ok", want: []string{"realert h1/10+11,12 sent=2"}},
			},
		},
		{
			name: "a descendant that has not crossed the threshold itself is still in the job's alert",
			cfg:  func(c *Config) { c.Threshold = 7100 * time.Second },
			steps: []step{
				{at: 0, seen: []ps{wrapper, pytest}, scan: "ok", want: []string{"alert h1/10+12 sent=1"}},
			},
		},
		{
			name: "recovery when the top is gone; a descendant that outlives it is a job of its own, judged on its own age",
			steps: []step{
				{at: 0, seen: []ps{wrapper, shell, pytest}, scan: "ok", want: []string{"alert h1/10+11,12 sent=1"}},
				// The wrapper and shell end; the pytest is reparented and
				// is its own top now: 2h old, over the threshold.
				{at: 10, seen: []ps{{pid: 12, created: -7080, age: 7090}}, scan: "ok", want: []string{"alert h1/12 sent=1", "recovery h1/10+11,12 sent=1"}},
				{at: 20, seen: []ps{{pid: 12, created: -7080, age: 7100}}, scan: "ok"},
				{at: 30, scan: "ok", want: []string{"recovery h1/12 sent=1"}},
			},
		},
		{
			name: "a descendant outliving its top under the threshold is not alerted until it crosses it",
			steps: []step{
				{at: 0, seen: []ps{wrapper, {pid: 13, created: -60, age: 60, job: 10, jobCreated: -7200}}, scan: "ok", want: []string{"alert h1/10+13 sent=1"}},
				{at: 10, seen: []ps{{pid: 13, created: -60, age: 70}}, scan: "ok", want: []string{"recovery h1/10+13 sent=1"}},
				{at: 3541, seen: []ps{{pid: 13, created: -60, age: 3601}}, scan: "ok", want: []string{"alert h1/13 sent=1"}},
			},
		},
		{
			name: "without its top among the metrics the job is named by its oldest process, judged on the top's age",
			steps: []step{
				{at: 0, seen: []ps{pytest, shell}, scan: "ok", want: []string{"alert h1/11+12 sent=1"}},
				// The top shows up: it names the job from now on.
				{at: 1000, seen: []ps{later(pytest, 1000), later(wrapper, 1000), later(shell, 1000)}, scan: "ok", want: []string{"realert h1/10+11,12 sent=2"}},
			},
		},
		{
			name: "metrics without job fields (older inputs) are jobs of their own",
			steps: []step{
				{at: 0, seen: []ps{{pid: 10, age: 7200}, {pid: 11, age: 7199}}, scan: "ok", want: []string{"alert h1/10 sent=1", "alert h1/11 sent=1"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			runSteps(t, New(cfg), tt.steps)
		})
	}
}

func TestMachineDigest(t *testing.T) {
	for _, n := range []int{6, 50, 2000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			m := New(testConfig())
			var seen []ps
			for i := range n {
				seen = append(seen, ps{pid: int64(1000 + i), age: 7200})
			}
			evs := runStep(m, step{at: 0, seen: seen, scan: "ok"})
			require.Equal(t, []string{fmt.Sprintf("alert h1 count=%d", n)}, describe(evs))
			require.Equal(t, n, m.Jobs(), "state for each job")

			// Within the cooldown: nothing; all gone: one recovery digest.
			require.Empty(t, runStep(m, step{at: 10, seen: seen, scan: "ok"}))
			evs = runStep(m, step{at: 20, scan: "ok"})
			require.Equal(t, []string{fmt.Sprintf("recovery h1 count=%d", n)}, describe(evs))
			require.Zero(t, m.Jobs())
		})
	}
	t.Run("exactly digest_after stays single events", func(t *testing.T) {
		m := New(testConfig())
		var seen []ps
		for i := range 5 {
			seen = append(seen, ps{pid: int64(i + 1), age: 7200})
		}
		require.Len(t, runStep(m, step{at: 0, seen: seen, scan: "ok"}), 5)
	})
}

func TestSourceIDAndAlertID(t *testing.T) {
	a := SourceID([]Tag{{"host", "a"}, {"pattern", "pytest"}, {"pid", "1"}}, tagKV)
	require.Equal(t, a, SourceID([]Tag{{"host", "a"}, {"pattern", "x"}, {"pid", "2"}}, tagKV), "pid and pattern are not the source")
	require.Equal(t, a, SourceID([]Tag{{"host", "a"}}, tagKV))
	require.NotEqual(t, a, SourceID([]Tag{{"host", "b"}}, tagKV))
	// Key and value boundaries matter.
	require.NotEqual(t, SourceID([]Tag{{"ab", "c"}}, tagKV), SourceID([]Tag{{"a", "bc"}}, tagKV))

	id := AlertID(a, JobID{PID: 7, CreatedAt: 1})
	require.Regexp(t, `^[0-9a-f]{16}$`, id)
	require.Equal(t, id, AlertID(a, JobID{PID: 7, CreatedAt: 1}))
	require.NotEqual(t, id, AlertID(a, JobID{PID: 7, CreatedAt: 2}))
	require.NotEqual(t, id, AlertID(a, JobID{PID: 8, CreatedAt: 1}))
	require.NotEqual(t, id, AlertID(SourceID([]Tag{{"host", "b"}}, tagKV), JobID{PID: 7, CreatedAt: 1}))
	// A fixed value: the id must not change between versions, or threads
	// of alerts sent before an upgrade would break.
	require.Equal(t, "65fb4605a8ae6641", AlertID(SourceID([]Tag{{"host", "ci-runner-3"}}, tagKV), JobID{PID: 48213, CreatedAt: 1795764410000000000}))
}
