//go:build linux

package benchmarks

import (
	"encoding/json"
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

const alertstateTOML = `
[[processors.alertstate]]
  threshold = "60m"
  cooldown = "30m"
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

// tracked counts the jobs the processor holds, from the state it hands to
// Telegraf's statefile (encoded as the statefile does).
func tracked(tb testing.TB, p telegraf.Processor) int {
	tb.Helper()
	st, ok := p.(telegraf.StatefulPlugin)
	if !ok {
		tb.Fatalf("processor %T keeps no state", p)
	}
	data, err := json.Marshal(st.GetState())
	if err != nil {
		tb.Fatal(err)
	}
	var state struct {
		Sources []struct {
			Jobs []json.RawMessage `json:"jobs"`
		} `json:"sources"`
	}
	if err := json.Unmarshal(data, &state); err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, s := range state.Sources {
		n += len(s.Jobs)
	}
	return n
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
	if events := applyAll(p, gatherMetrics(trackedN, at)); events == 0 {
		b.Fatal("the first gather raised no alert")
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	if got := tracked(b, p); got != trackedN {
		b.Fatalf("tracking %d processes, want %d", got, trackedN)
	}

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
		}
	}
	b.StopTimer()
	reportCPU(b, cpu)
	if events != 0 {
		b.Fatalf("steady state emitted %d events, want none", events)
	}
	if got := tracked(b, p); got != trackedN {
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
	require.Positive(t, applyAll(p, ms))
	require.Equal(t, n, tracked(t, p))
	for range 3 {
		require.Zero(t, applyAll(p, ms))
	}
	require.Equal(t, n, tracked(t, p))
	// A gather without them, past the group window of their alerts,
	// recovers them all: the benchmark's processes were really tracked,
	// not ignored.
	require.Positive(t, applyAll(p, gatherMetrics(0, at.Add(time.Minute))))
	require.Zero(t, tracked(t, p))
}
