//go:build linux

package benchmarks

import (
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// plainN is how many processes the plain tests spawn: `make test` runs them
// under -race next to other work, so they stay small.
const plainN = 200

// usePool sizes the shared pool for a plain test and ends the processes
// again when the test ends, failed or not.
func usePool(t *testing.T, n int) []int {
	t.Helper()
	t.Cleanup(func() { pool.endAll() })
	return withPool(t, n)
}

// The floor must find exactly the spawned pytest look-alikes among the
// spawned processes, with the stat fields read from the right line.
func TestFloorFindsSpawnedPytest(t *testing.T) {
	pids := usePool(t, plainN)
	f := newFloorScanner("/proc", "pytest")
	require.NoError(t, f.scan())
	require.GreaterOrEqual(t, f.procs, plainN)

	found := make(map[int]floorProc, len(f.matched))
	for _, p := range f.matched {
		found[p.pid] = p
	}
	self := os.Getpid()
	for i, pid := range pids {
		p, ok := found[pid]
		if !isPytest(i) {
			require.Falsef(t, ok, "process %d (%q) matched", pid, argvFor(i)[0])
			continue
		}
		require.Truef(t, ok, "process %d (%q) not matched", pid, argvFor(i)[0])
		require.Equal(t, self, p.ppid, "ppid of %d", pid)
		require.NotZero(t, p.startTick, "starttime of %d", pid)
		require.NotZero(t, p.btime)
	}
}

// A scan reuses its buffers: after the first scan it allocates nothing,
// neither per process nor per match.
func TestFloorAllocatesNothing(t *testing.T) {
	usePool(t, plainN)
	f := newFloorScanner("/proc", "pytest")
	require.NoError(t, f.scan())
	allocs := testing.AllocsPerRun(5, func() {
		if err := f.scan(); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
	require.GreaterOrEqual(t, len(f.matched), plainN/pytestEvery)
}

// Shrinking the pool ends the processes it drops, by PID, and reaps them.
func TestPoolEndsItsProcesses(t *testing.T) {
	pids := usePool(t, 20)
	for _, pid := range pids {
		_, err := os.Stat("/proc/" + strconv.Itoa(pid))
		require.NoError(t, err)
	}
	require.NoError(t, pool.resize(5))
	require.Equal(t, pids[:5], pool.pids())
	for _, pid := range pids[5:] {
		_, err := os.Stat("/proc/" + strconv.Itoa(pid))
		require.Truef(t, os.IsNotExist(err), "process %d still in /proc: %v", pid, err)
	}
	pool.endAll()
	require.Zero(t, pool.size())
}

func TestParseStat(t *testing.T) {
	// comm holds ") " and spaces: only the last ')' ends it.
	line := "4242 (py) (x) y) S 17 4242 4242 0 -1 4194304 100 0 0 0 150 50 0 0 20 0 1 0 98765 1000 200 18446744073709551615"
	p, err := parseStat([]byte(line))
	require.NoError(t, err)
	require.Equal(t, floorProc{ppid: 17, cpuTicks: 200, startTick: 98765}, p)

	_, err = parseStat([]byte("4242 (py) S 17 4242"))
	require.ErrorIs(t, err, errShortStat)
	_, err = parseStat([]byte("no paren"))
	require.ErrorIs(t, err, errShortStat)
}
