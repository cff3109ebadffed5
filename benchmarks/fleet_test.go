//go:build linux

package benchmarks

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	serializer "github.com/influxdata/telegraf/plugins/serializers/influx"
	"github.com/stretchr/testify/require"
)

// The fleet's alerter decides for every node: 1,000 nodes with 20 matching
// processes each, all past the threshold (every job alerted: the most state
// the alerter can hold for them), scanned every 10 s.
const (
	fleetNodes    = 1000
	fleetProcs    = 20
	fleetInterval = 10 * time.Second
)

// fleetGather is one interval of the whole fleet: each node's processes and
// the scan metric that closes its scan, node after node, as the alerter
// receives them.
func fleetGather(at time.Time) []telegraf.Metric {
	return fleetGatherOf(fleetProcs, at)
}

// fleetGatherOf is an interval in which each node runs procs processes.
func fleetGatherOf(procs int, at time.Time) []telegraf.Metric {
	out := make([]telegraf.Metric, 0, fleetNodes*(procs+1))
	for n := range fleetNodes {
		host := "runner-" + strconv.Itoa(n)
		for _, m := range gatherMetrics(procs, at) {
			m.AddTag("host", host)
			out = append(out, m)
		}
	}
	return out
}

// BenchmarkAlerterFleet times alertstate over one interval of the fleet
// (one op: 21,000 metrics) in the steady state, every job alerted and still
// running. `core` is the share of one core the alerter's decisions take:
// CPU time per interval over the interval. `B/fleet` is the heap the
// processor holds for the whole fleet.
func BenchmarkAlerterFleet(b *testing.B) {
	at := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	p := loadProcessor(b, alertstateTOML)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if applyAll(p, fleetGather(at)) == 0 {
		b.Fatal("the first interval raised no alert")
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := float64(after.HeapAlloc) - float64(before.HeapAlloc)

	ms := fleetGather(at)
	b.ReportAllocs()
	b.ResetTimer()
	var used time.Duration
	events := 0
	for b.Loop() {
		// The next interval: the same processes, a scan later. A scan
		// not newer than the last one decided would be taken for a replay
		// and skipped.
		b.StopTimer()
		shift(ms, fleetInterval)
		b.StartTimer()
		cpu := cpuNow()
		events += applyAll(p, ms)
		used += cpuNow() - cpu
	}
	b.StopTimer()
	b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	if events != 0 {
		b.Fatalf("steady state emitted %d events, want none", events)
	}
	if got := tracked(b, p, fleetGatherOf(0, ms[0].Time().Add(time.Minute))); got != fleetNodes*fleetProcs {
		b.Fatalf("tracking %d jobs, want %d", got, fleetNodes*fleetProcs)
	}
	b.ReportMetric(float64(used)/float64(b.N)/float64(fleetInterval), "core")
	b.ReportMetric(held, "B/fleet")
}

// BenchmarkAlerterFleetParse times what the alerter's nats_consumer does
// before alertstate: parsing one interval of the fleet from influx line
// protocol, one message per node as node.conf publishes.
func BenchmarkAlerterFleetParse(b *testing.B) {
	at := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	s := &serializer.Serializer{}
	if err := s.Init(); err != nil {
		b.Fatal(err)
	}
	all := fleetGather(at)
	msgs := make([][]byte, 0, fleetNodes)
	for n := range fleetNodes {
		data, err := s.SerializeBatch(all[n*(fleetProcs+1) : (n+1)*(fleetProcs+1)])
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, data)
	}
	parser := &influx.Parser{}
	if err := parser.Init(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuNow()
	for b.Loop() {
		for _, m := range msgs {
			if _, err := parser.Parse(m); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	used := cpuNow() - cpu
	reportCPU(b, cpu)
	b.ReportMetric(float64(used)/float64(b.N)/float64(fleetInterval), "core")
}

// The fleet benchmark's setup does what it claims: every node's jobs are
// alerted once, kept apart by the host tag, and a later interval of the same
// processes changes nothing.
func TestAlerterFleetBenchSetup(t *testing.T) {
	at := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	ms := fleetGather(at)
	require.Len(t, ms, fleetNodes*(fleetProcs+1))
	p := loadProcessor(t, alertstateTOML)
	require.Equal(t, fleetNodes*fleetProcs, jobsNamed(t, p, ms, "alert"), "each node's jobs are its own")
	later := fleetGather(at)
	shift(later, fleetInterval)
	require.Zero(t, applyAll(p, later))
	require.Equal(t, fleetNodes*fleetProcs, tracked(t, p, fleetGatherOf(0, at.Add(time.Minute))))
}

// shift moves metrics d later: the same processes, older by d.
func shift(ms []telegraf.Metric, d time.Duration) {
	for _, m := range ms {
		m.SetTime(m.Time().Add(d))
		if age, ok := m.GetField("age_seconds"); ok {
			m.AddField("age_seconds", age.(float64)+d.Seconds())
		}
	}
}
