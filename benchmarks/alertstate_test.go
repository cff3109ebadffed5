//go:build linux

package benchmarks

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/stretchr/testify/require"

	_ "github.com/procblocking/procblocking/plugins/processors/alertstate"
)

// trackedN is how many alerted processes the processor holds while its cost
// per metric is measured.
const trackedN = 10000

// The state is kept in memory (state_file = ""): the benchmarks measure the
// decisions, and the default state file is the machine's own.
const alertstateTOML = `
[[processors.alertstate]]
  threshold = "60m"
  cooldown = "30m"
  state_file = ""
`

// loadProcessor builds the processor as Telegraf does, from TOML through the
// registry and the running processor's Init, and returns the plugin itself:
// Telegraf wraps a plain processor in a streaming adapter whose Add calls
// Apply with one metric at a time, which is how it is timed here.
func loadProcessor(tb testing.TB, toml string) telegraf.Processor {
	tb.Helper()
	cfg := loadConfig(tb, toml)
	if len(cfg.Processors) != 1 {
		tb.Fatalf("loading %s: got %d processors, want 1", toml, len(cfg.Processors))
	}
	if err := cfg.Processors[0].Init(); err != nil {
		tb.Fatalf("initializing %s: %v", toml, err)
	}
	sp := cfg.Processors[0].Processor
	u, ok := sp.(interface{ Unwrap() telegraf.Processor })
	if !ok {
		tb.Fatalf("processor %T does not wrap a plain processor", sp)
	}
	return u.Unwrap()
}

// gatherMetrics returns what one gather of procblocking yields with n
// matching processes, each a job of its own, all over the 60m threshold,
// then the scan metric that closes the gather.
func gatherMetrics(n int, at time.Time) []telegraf.Metric {
	out := make([]telegraf.Metric, 0, n+1)
	for i := range n {
		pid := 100000 + i
		created := at.Add(-2 * time.Hour).Add(-time.Duration(i) * time.Millisecond)
		out = append(out, metric.New("procblocking",
			map[string]string{"host": "bench", "pattern": "pytest", "pid": strconv.Itoa(pid)},
			map[string]any{
				"age_seconds":    at.Sub(created).Seconds(),
				"cpu_seconds":    1234.5,
				"cpu_usage":      99.5,
				"created_at":     created.UnixNano(),
				"ppid":           int64(1),
				"orphan":         true,
				"state":          "R",
				"comm":           "python3",
				"threads":        int64(4),
				"rss_bytes":      int64(200 << 20),
				"cmdline":        "python3 -m pytest tests/t_" + strconv.Itoa(i) + ".py",
				"container_id":   "4f0c1fd2a3b94e6e8d7c5b4a3928172635445362718293a4b5c6d7e8f9012345",
				"job_pid":        int64(pid),
				"job_created_at": created.UnixNano(),
			}, at))
	}
	out = append(out, metric.New("procblocking_scan",
		map[string]string{"host": "bench"},
		map[string]any{"processes": int64(n + 100), "matched": int64(n), "errors": int64(0), "duration_ms": 12.5, "ok": true, "host_view": true},
		at))
	return out
}

// applyAll feeds metrics one at a time, as Telegraf does, and returns the
// alert events that came out.
func applyAll(p telegraf.Processor, ms []telegraf.Metric) (events int) {
	for _, m := range ms {
		events += len(p.Apply(m)) - 1
	}
	return events
}

// jobsNamed feeds metrics one at a time and counts the jobs that the events
// of one kind (alert, recovery) name: one for a job's event, count for a
// digest. The processor keeps its state to itself; what it holds shows in
// what it says.
func jobsNamed(tb testing.TB, p telegraf.Processor, ms []telegraf.Metric, kind string) int {
	tb.Helper()
	n := 0
	for _, m := range ms {
		for _, ev := range p.Apply(m) {
			if ev.Name() != "procblocking_alert" {
				continue
			}
			if k, _ := ev.GetTag("event"); k != kind {
				continue
			}
			c, ok := ev.GetField("count")
			if !ok {
				tb.Fatalf("a %s event without a count: %v", kind, ev)
			}
			n += int(c.(int64))
		}
	}
	return n
}

// tracked ends every job the processor holds with a gather in which none of
// them runs, a minute later (past the group window), and counts the jobs
// the recoveries name.
func tracked(tb testing.TB, p telegraf.Processor, empty []telegraf.Metric) int {
	tb.Helper()
	return jobsNamed(tb, p, empty, "recovery")
}

// BenchmarkAlertstateApply times Apply per metric while trackedN processes
// are alerted and still running: the steady state between two alerts, which
// is what the processor does on every gather. The first gather (all alerts)
// runs before the timer and gives the heap held per tracked process; its
// metrics are dropped before the heap is read, so strings the processor
// keeps from them (tags, cmdline) count as held.
func BenchmarkAlertstateApply(b *testing.B) {
	at := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	p := loadProcessor(b, alertstateTOML)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if got := jobsNamed(b, p, gatherMetrics(trackedN, at), "alert"); got != trackedN {
		b.Fatalf("the first gather alerted %d processes, want %d", got, trackedN)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := float64(after.HeapAlloc) - float64(before.HeapAlloc)

	// The same processes, gathered again.
	ms := gatherMetrics(trackedN, at)
	events := 0
	i := 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuNow()
	for b.Loop() {
		events += len(p.Apply(ms[i])) - 1
		if i++; i == len(ms) {
			i = 0
			// The next gather: a scan not newer than the last one decided
			// would be skipped as a replay.
			b.StopTimer()
			for _, m := range ms {
				m.SetTime(m.Time().Add(time.Second))
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	reportCPU(b, cpu)
	// Finish the gather the loop stopped in, so that the next one starts
	// afresh.
	for ; i > 0 && i < len(ms); i++ {
		events += len(p.Apply(ms[i])) - 1
	}
	if events != 0 {
		b.Fatalf("steady state emitted %d events, want none", events)
	}
	if got := tracked(b, p, gatherMetrics(0, ms[0].Time().Add(time.Minute))); got != trackedN {
		b.Fatalf("tracking %d processes after the run, want %d", got, trackedN)
	}
	b.ReportMetric(held/trackedN, "B/tracked")
}

// The benchmark's setup must do what it claims: the first gather alerts
// every process, later gathers of the same processes emit nothing and keep
// them all tracked.
func TestAlertstateBenchSetup(t *testing.T) {
	const n = 1000
	at := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	ms := gatherMetrics(n, at)
	p := loadProcessor(t, alertstateTOML)
	require.Equal(t, n, jobsNamed(t, p, ms, "alert"))
	for range 3 {
		for _, m := range ms {
			m.SetTime(m.Time().Add(time.Second))
		}
		require.Zero(t, applyAll(p, ms))
	}
	// A gather without them, past the group window of their alerts,
	// recovers them all: the benchmark's processes were really tracked,
	// not ignored.
	require.Equal(t, n, tracked(t, p, gatherMetrics(0, at.Add(time.Minute))))
	require.Zero(t, applyAll(p, gatherMetrics(0, at.Add(2*time.Minute))))
}
