//go:build linux

package procblocking

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/testutil"
	"github.com/prometheus/procfs"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

// startNamed starts `sleep 600` under an argv[0] that reads like a test run
// and waits until it sleeps, so its command line is the one asserted and its
// memory is mapped: right after the exec the kernel's per-CPU RSS counters
// can still read 0 pages.
func startNamed(t *testing.T, argv0 string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("bash", "-c", `exec -a "$0" sleep 600`, argv0)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	waitCmdline(t, cmd.Process.Pid, argv0)
	waitAsleep(t, cmd.Process.Pid)
	return cmd
}

// waitAsleep waits until the process sleeps in nanosleep, that is, until
// sleep(1) has been loaded and has reached its call.
func waitAsleep(t *testing.T, pid int) {
	t.Helper()
	proctest.WaitFor(t, time.Minute, fmt.Sprintf("pid %d to sleep", pid), func() bool {
		wchan, err := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid))
		return err == nil && strings.Contains(string(wchan), "nanosleep")
	})
}

func waitCmdline(t *testing.T, pid int, want string) {
	t.Helper()
	proctest.WaitFor(t, time.Minute, fmt.Sprintf("pid %d to show %q in its cmdline", pid, want), func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		// The argument must lead: before the exec, bash's own command line
		// holds the same text as a later argument.
		return err == nil && strings.HasPrefix(string(b), want+"\x00")
	})
}

func newRealPlugin(t *testing.T, pattern string) *ProcBlocking {
	t.Helper()
	p := newPlugin(t)
	p.Patterns = []string{pattern}
	p.ProcRoot = "/proc"
	require.NoError(t, p.Init())
	return p
}

// lastScan is the scan metric of the last gatherReal.
var lastScan telegraf.Metric

func gatherReal(t *testing.T, p *ProcBlocking) map[string]telegraf.Metric {
	t.Helper()
	var acc testutil.Accumulator
	require.NoError(t, p.Gather(&acc))
	require.Empty(t, acc.Errors)
	byPID := map[string]telegraf.Metric{}
	for _, m := range acc.GetTelegrafMetrics() {
		if m.Name() == "procblocking" {
			byPID[m.Tags()["pid"]] = m
		}
	}
	last := acc.GetTelegrafMetrics()[len(acc.GetTelegrafMetrics())-1]
	require.Equal(t, "procblocking_scan", last.Name())
	require.Equal(t, true, last.Fields()["ok"])
	require.Equal(t, int64(len(byPID)), last.Fields()["matched"].(int64)+last.Fields()["descendants"].(int64))
	require.Greater(t, last.Fields()["processes"], int64(1))
	lastScan = last
	return byPID
}

func TestRealProcess(t *testing.T) {
	// Unique per test run so that concurrent runs on the machine do not mix.
	target := fmt.Sprintf("tests/x_%d.py", os.Getpid())
	argv0 := "python3 -m pytest " + target
	before := time.Now()
	cmd := startNamed(t, argv0)
	pid := cmd.Process.Pid

	p := newRealPlugin(t, target)
	got := gatherReal(t, p)
	require.Len(t, got, 1)
	m, ok := got[strconv.Itoa(pid)]
	require.True(t, ok, "pid %d not reported: %v", pid, got)
	require.Equal(t, target, m.Tags()["pattern"])
	require.Equal(t, int64(os.Getpid()), m.Fields()["ppid"])
	require.Equal(t, false, m.Fields()["orphan"])
	require.Equal(t, argv0+" 600", m.Fields()["cmdline"])
	require.Equal(t, "sleep", m.Fields()["comm"])
	require.Equal(t, int64(1), m.Fields()["threads"])
	require.Positive(t, m.Fields()["rss_bytes"])

	// created_at agrees with procfs's own reading of the start time.
	fs, err := procfs.NewFS("/proc")
	require.NoError(t, err)
	proc, err := fs.Proc(pid)
	require.NoError(t, err)
	st, err := proc.Stat()
	require.NoError(t, err)
	start, err := st.StartTime()
	require.NoError(t, err)
	createdAt := m.Fields()["created_at"].(int64)
	require.InDelta(t, start, float64(createdAt)/1e9, 1e-3)

	// btime has whole seconds, so the start may read up to a second early.
	age := m.Fields()["age_seconds"].(float64)
	require.GreaterOrEqual(t, age, 0.0)
	require.LessOrEqual(t, age, time.Since(before).Seconds()+1.01)
	require.InDelta(t, float64(m.Time().UnixNano()-createdAt)/1e9, age, 1e-6)

	require.NoError(t, cmd.Process.Kill())
	_, _ = cmd.Process.Wait()
	got = gatherReal(t, p)
	require.Empty(t, got, "a killed process is no longer reported")
}

func TestRealOrphanInPIDNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skipf("needs root: unshare --pid creates a PID namespace")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skipf("unshare not installed: %v", err)
	}
	target := fmt.Sprintf("tests/y_%d.py", os.Getpid())
	argv0 := "python3 -m pytest " + target
	// The namespace's init (sh, then sleep) starts the pytest-like grandchild
	// from a subshell that exits at once: the grandchild is reparented onto
	// the init, as onto tini in a container. --kill-child takes the
	// namespace down with the unshare process.
	ns := exec.Command("unshare", "--pid", "--fork", "--kill-child", "bash", "-c",
		`( exec -a "$0" sleep 600 & ); exec sleep 600`, argv0)
	require.NoError(t, ns.Start())
	t.Cleanup(func() {
		_ = ns.Process.Kill()
		_, _ = ns.Process.Wait()
	})

	// An ordinary child of this test with the same kind of command line.
	child := startNamed(t, argv0+" --ordinary")

	fs, err := procfs.NewFS("/proc")
	require.NoError(t, err)
	var initPID int
	proctest.WaitFor(t, time.Minute, "the namespace init", func() bool {
		procs, err := fs.AllProcs()
		require.NoError(t, err)
		for _, pr := range procs {
			if st, err := pr.Stat(); err == nil && st.PPID == ns.Process.Pid {
				initPID = pr.PID
			}
		}
		return initPID != 0
	})
	t.Cleanup(func() { _ = syscall.Kill(initPID, syscall.SIGKILL) })

	p := newRealPlugin(t, target)
	// The grandchild is ready when it is both reparented and exec'd: the
	// subshell it forked from exits at once, so it can sit under the init
	// as a bash copy whose command line (bash's, with argv0 as $0) matches
	// the pattern too. Its comm turns to sleep only with the exec; its
	// command line is asserted after.
	var orphan telegraf.Metric
	proctest.WaitFor(t, time.Minute, fmt.Sprintf("the grandchild to exec sleep under the namespace init %d", initPID), func() bool {
		for pid, m := range gatherReal(t, p) {
			if pid != strconv.Itoa(child.Process.Pid) && m.Fields()["ppid"] == int64(initPID) && m.Fields()["comm"] == "sleep" {
				orphan = m
				return true
			}
		}
		return false
	})
	grandchild, err := strconv.Atoi(orphan.Tags()["pid"])
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Kill(grandchild, syscall.SIGKILL) })

	require.Equal(t, true, orphan.Fields()["orphan"])
	require.Equal(t, argv0+" 600", orphan.Fields()["cmdline"])

	got := gatherReal(t, p)
	ordinary, ok := got[strconv.Itoa(child.Process.Pid)]
	require.True(t, ok)
	require.Equal(t, false, ordinary.Fields()["orphan"])
	require.Equal(t, int64(os.Getpid()), ordinary.Fields()["ppid"])
	require.Equal(t, true, got[orphan.Tags()["pid"]].Fields()["orphan"])
}
