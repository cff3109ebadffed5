//go:build linux

package benchmarks

import (
	"slices"
	"strconv"
	"testing"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	_ "github.com/procblocking/procblocking/plugins/inputs/procblocking"
)

// procblockingTOML is the input as the issue configures it. min_age is left
// at its default, 0s, so freshly spawned processes are reported.
const procblockingTOML = `
[[inputs.procblocking]]
  patterns = ["pytest"]
`

// noMatchTOML makes every process a miss: the cost left is the walk itself.
const noMatchTOML = `
[[inputs.procblocking]]
  patterns = ["no-such-command-xyz"]
`

func procblockingScan(tb testing.TB) scanner {
	return procblockingFrom(tb, procblockingTOML)
}

func procblockingFrom(tb testing.TB, toml string) scanner {
	return inputScan("procblocking", loadInput(tb, toml), func(acc *testutil.Accumulator) int {
		v, _ := acc.Int64Field("procblocking_scan", "matched")
		return int(v)
	})
}

// scanners are the contenders, in the order the benchmarks list them.
func scanners() []func(testing.TB) scanner {
	return []func(testing.TB) scanner{
		func(testing.TB) scanner { return floorScan("pytest") },
		procblockingScan,
		procstatScan,
	}
}

// BenchmarkScanNoMatch shows that a scan in which nothing matches allocates
// the same at every N: allocs/op must not move between the two sizes.
func BenchmarkScanNoMatch(b *testing.B) {
	for _, n := range benchNs {
		b.Run("N="+strconv.Itoa(n), func(b *testing.B) {
			withPool(b, n)
			benchScan(b, procblockingFrom(b, noMatchTOML), 0)
		})
	}
}

// allocSizes are the two pool sizes the allocation test compares. Under
// -race (`make test`) the test spawns no more than plainN processes.
func allocSizes() (small, large int) {
	if raceEnabled {
		return plainN / 4, plainN
	}
	return plainN, 1000
}

// A scan in which no process matches allocates O(1): the same number of
// allocations, within a small constant, whether /proc lists a few dozen or a
// thousand more PIDs. AllocsPerRun counts, it does not time. The test runs on
// the host's /proc, where other work starts and ends processes all the time;
// a PID that vanishes mid-walk costs its scan an error and a debug log's
// allocations. So each size is judged by the fewest allocations of scans
// that counted no error, taken one by one, never by an average that such
// scans raise.
func TestScanNoMatchAllocsConstant(t *testing.T) {
	small, large := allocSizes()
	in := loadInput(t, noMatchTOML)
	var acc testutil.Accumulator
	const cleanScans = 5
	measure := func(n int) (allocs float64, procs int) {
		usePool(t, n)
		require.Equal(t, n, pool.size())
		procs = countProcs(t)
		var clean []float64
		for tries := 0; len(clean) < cleanScans; tries++ {
			require.Less(t, tries, 1000, "fewer than %d of 1000 scans of %d PIDs saw no process vanish", cleanScans, procs)
			a := testing.AllocsPerRun(1, func() {
				acc.ClearMetrics()
				require.NoError(t, in.Gather(&acc))
			})
			matched, ok := acc.Int64Field("procblocking_scan", "matched")
			require.True(t, ok)
			require.Zero(t, matched)
			if errs, _ := acc.Int64Field("procblocking_scan", "errors"); errs == 0 {
				clean = append(clean, a)
			}
		}
		return slices.Min(clean), procs
	}
	allocSmall, procsSmall := measure(small)
	allocLarge, procsLarge := measure(large)
	t.Logf("%.0f allocs per scan of %d PIDs, %.0f of %d", allocSmall, procsSmall, allocLarge, procsLarge)
	require.InDelta(t, allocSmall, allocLarge, 5,
		"allocations per scan grew with the number of processes (%d more PIDs)", procsLarge-procsSmall)
}

// procblocking and the floor must find the same spawned processes, so that
// the benchmarks compare the same work.
func TestProcblockingMatchesFloor(t *testing.T) {
	pids := usePool(t, plainN)
	in := loadInput(t, procblockingTOML)
	var acc testutil.Accumulator
	require.NoError(t, in.Gather(&acc))
	require.Empty(t, acc.Errors)
	f := newFloorScanner("/proc", "pytest")
	require.NoError(t, f.scan())

	ours := make(map[string]bool, len(pids))
	for _, pid := range pids {
		ours[strconv.Itoa(pid)] = true
	}
	got := map[string]bool{}
	for _, m := range acc.GetTelegrafMetrics() {
		if pid, ok := m.GetTag("pid"); ok && m.Name() == "procblocking" && ours[pid] {
			got[pid] = true
		}
	}
	want := map[string]bool{}
	for _, p := range f.matched {
		if pid := strconv.Itoa(p.pid); ours[pid] {
			want[pid] = true
		}
	}
	require.Len(t, want, plainN/pytestEvery)
	require.Equal(t, want, got)
}
