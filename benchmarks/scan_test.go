//go:build linux

package benchmarks

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"

	// Telegraf's own input, registered as in any Telegraf binary.
	_ "github.com/influxdata/telegraf/plugins/inputs/procstat"
)

// benchNs are the pool sizes the scan benchmarks run at.
var benchNs = []int{1000, 5000}

// minRatioRounds is the fewest interleaved rounds one run of
// BenchmarkScanRatios averages over.
const minRatioRounds = 10

// procstatTOML is how a user would point Telegraf's procstat at pytest: the
// native finder (no pgrep fork per gather) and the default properties.
const procstatTOML = `
[[inputs.procstat]]
  pattern = "pytest"
  pid_finder = "native"
`

// loadInput builds an input the way Telegraf does: from TOML through the
// plugin registry, so the factory's defaults apply, then the running input's
// Init, which validates it and calls the plugin's Init.
func loadInput(tb testing.TB, toml string) telegraf.Input {
	tb.Helper()
	cfg := loadConfig(tb, toml)
	if len(cfg.Inputs) != 1 {
		tb.Fatalf("loading %s: got %d inputs, want 1", toml, len(cfg.Inputs))
	}
	if err := cfg.Inputs[0].Init(); err != nil {
		tb.Fatalf("initializing %s: %v", toml, err)
	}
	return cfg.Inputs[0].Input
}

// loadConfig loads a plugin's table as Telegraf loads a config file.
func loadConfig(tb testing.TB, toml string) *config.Config {
	tb.Helper()
	cfg := config.NewConfig()
	if err := cfg.LoadConfigData([]byte(toml), config.EmptySourcePath); err != nil {
		tb.Fatalf("loading %s: %v", toml, err)
	}
	return cfg
}

// scanner is one way of scanning /proc, reduced to what the benchmarks need.
type scanner struct {
	name string
	// scan does one full scan.
	scan func() error
	// matched returns how many processes the last scan matched.
	matched func() int
}

func floorScan(pattern string) scanner {
	f := newFloorScanner("/proc", pattern)
	return scanner{
		name:    "floor",
		scan:    f.scan,
		matched: func() int { return len(f.matched) },
	}
}

// inputScan gathers an input into a testutil.Accumulator that is emptied
// before each gather, so memory does not grow with b.N.
func inputScan(name string, in telegraf.Input, matched func(*testutil.Accumulator) int) scanner {
	acc := &testutil.Accumulator{}
	return scanner{
		name: name,
		scan: func() error {
			acc.ClearMetrics()
			if err := in.Gather(acc); err != nil {
				return err
			}
			return nil
		},
		matched: func() int { return matched(acc) },
	}
}

func procstatScan(tb testing.TB) scanner {
	return inputScan("procstat", loadInput(tb, procstatTOML), func(acc *testutil.Accumulator) int {
		v, _ := acc.IntField("procstat_lookup", "pid_count")
		return int(v)
	})
}

// countProcs is how many PIDs /proc lists right now: the spawned pool plus
// whatever else runs on the machine. ns/proc divides by it.
func countProcs(tb testing.TB) int {
	tb.Helper()
	f := newFloorScanner("/proc", "\x00no match\x00")
	if err := f.scan(); err != nil {
		tb.Fatal(err)
	}
	return f.procs
}

// benchScan times one scanner at the current pool size. The first scan runs
// before the timer: procstat and procblocking keep per-PID state (CPU usage
// needs a previous sample), and a steady-state gather is what an agent does
// every interval.
func benchScan(b *testing.B, s scanner, wantMatched int) {
	if err := s.scan(); err != nil {
		b.Fatalf("%s: first scan: %v", s.name, err)
	}
	if got := s.matched(); got < wantMatched {
		b.Fatalf("%s matched %d processes, want at least %d", s.name, got, wantMatched)
	}
	procs := countProcs(b)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuNow()
	for b.Loop() {
		if err := s.scan(); err != nil {
			b.Fatalf("%s: %v", s.name, err)
		}
	}
	b.StopTimer()
	reportCPU(b, cpu)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(procs), "ns/proc")
	b.ReportMetric(float64(procs), "procs")
	b.ReportMetric(float64(s.matched()), "matched")
}

// BenchmarkScan times each scanner on its own, at each pool size: ns/op is
// one scan, ns/proc one scan divided by the PIDs in /proc.
func BenchmarkScan(b *testing.B) {
	for _, n := range benchNs {
		b.Run("N="+strconv.Itoa(n), func(b *testing.B) {
			withPool(b, n)
			for _, mk := range scanners() {
				s := mk(b)
				b.Run(s.name, func(b *testing.B) { benchScan(b, s, n/pytestEvery) })
			}
		})
	}
}

// BenchmarkScanRatios times the scanners in interleaved rounds, rotating
// which goes first, so that load from anything else on the machine falls on
// all of them alike; the ratios are reported from that one run, once from
// wall time and once from CPU time (cpu-*), which waiting for a core on a
// busy machine does not inflate.
func BenchmarkScanRatios(b *testing.B) {
	for _, n := range benchNs {
		b.Run("N="+strconv.Itoa(n), func(b *testing.B) {
			withPool(b, n)
			var ss []scanner
			for _, mk := range scanners() {
				s := mk(b)
				if err := s.scan(); err != nil {
					b.Fatalf("%s: first scan: %v", s.name, err)
				}
				ss = append(ss, s)
			}
			wall := make([]time.Duration, len(ss))
			cpu := make([]time.Duration, len(ss))
			rounds := 0
			round := func() {
				for k := range ss {
					i := (k + rounds) % len(ss)
					start, startCPU := time.Now(), cpuNow()
					if err := ss[i].scan(); err != nil {
						b.Fatalf("%s: %v", ss[i].name, err)
					}
					wall[i] += time.Since(start)
					cpu[i] += cpuNow() - startCPU
					// Collect outside the timed window, so that the garbage
					// of one scanner is not marked on the next one's time:
					// this leaves GC out of all three (it flatters procstat,
					// which allocates the most).
					runtime.GC()
				}
				rounds++
			}
			for b.Loop() {
				round()
			}
			// A second of procstat at N=5000 is one or two rounds: the
			// ratios need more than that to be worth a median.
			for rounds < minRatioRounds {
				round()
			}
			b.StopTimer()
			reportRatios(b, ss, wall, rounds, "")
			reportRatios(b, ss, cpu, rounds, "cpu-")
			b.ReportMetric(float64(rounds), "rounds")
		})
	}
}

// reportRatios reports the time per scan of each scanner and the ratios the
// targets are stated in.
func reportRatios(b *testing.B, ss []scanner, spent []time.Duration, rounds int, prefix string) {
	per := make(map[string]float64, len(ss))
	for i, s := range ss {
		per[s.name] = float64(spent[i].Nanoseconds()) / float64(rounds)
		b.ReportMetric(per[s.name], prefix+"ns/"+s.name)
	}
	for _, r := range [][2]string{{"procstat", "procblocking"}, {"procblocking", "floor"}} {
		if per[r[0]] > 0 && per[r[1]] > 0 {
			b.ReportMetric(per[r[0]]/per[r[1]], prefix+r[0]+"/"+r[1])
		}
	}
}

// BenchmarkReaddirOnly is the floor without its reads: the walk of /proc
// alone. The floor minus this is the cost of reading the files.
func BenchmarkReaddirOnly(b *testing.B) {
	for _, n := range benchNs {
		b.Run("N="+strconv.Itoa(n), func(b *testing.B) {
			withPool(b, n)
			f := newFloorScanner("/proc", "pytest")
			f.listOnly = true
			b.ReportAllocs()
			for b.Loop() {
				if err := f.scan(); err != nil {
					b.Fatal(err)
				}
			}
			if f.procs < n {
				b.Fatalf("listed %d PIDs, want at least %d", f.procs, n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(f.procs), "ns/proc")
		})
	}
}
