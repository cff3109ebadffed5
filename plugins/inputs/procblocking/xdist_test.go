//go:build linux

package procblocking

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

// execnetWorker is the command line of a pytest-xdist worker after its
// interpreter: execnet starts each as `python -u -c <this>` and sends it its
// code on stdin.
const execnetWorker = "-u -c import sys;exec(eval(sys.stdin.readline()))"

// burnThenSleep is a line for an execnet-like worker's stdin: a Python
// string that it runs, burning half a second of CPU, then sleeping.
const burnThenSleep = `"import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5: pass\ntime.sleep(600)"`

// killTree ends a process the test started and its children, by PID.
func killTree(pid int) {
	for _, kid := range childrenOf(pid) {
		_ = syscall.Kill(kid, syscall.SIGKILL)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// childrenOf lists the children of pid from its threads' children files.
func childrenOf(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			if kid, err := strconv.Atoi(s); err == nil {
				out = append(out, kid)
			}
		}
	}
	return out
}

// gatherJob gathers once and returns the metrics of the job whose top is
// top, by PID, and the scan metric.
func gatherJob(t *testing.T, p *ProcBlocking, top int) (map[int]telegraf.Metric, telegraf.Metric) {
	t.Helper()
	got := gatherReal(t, p)
	job := map[int]telegraf.Metric{}
	for pid, m := range got {
		if m.Fields()["job_pid"] == int64(top) {
			n, err := strconv.Atoi(pid)
			require.NoError(t, err)
			job[n] = m
		}
	}
	return job, lastScan
}

// requireJobFigures checks the top's job fields against its processes'
// own figures, all from one gather.
func requireJobFigures(t *testing.T, job map[int]telegraf.Metric, top int) {
	t.Helper()
	head := job[top].Fields()
	var cpu, usage float64
	var rss int64
	hasUsage := false
	for _, m := range job {
		cpu += m.Fields()["cpu_seconds"].(float64)
		rss += m.Fields()["rss_bytes"].(int64)
		if u, ok := m.Fields()["cpu_usage"].(float64); ok {
			usage, hasUsage = usage+u, true
		}
		require.Equal(t, head["created_at"], m.Fields()["job_created_at"])
	}
	require.Equal(t, int64(len(job)), head["job_processes"])
	require.InDelta(t, cpu, head["job_cpu_seconds"], 1e-9)
	require.Equal(t, rss, head["job_rss_bytes"])
	if hasUsage {
		require.InDelta(t, usage, head["job_cpu_usage"], 1e-9)
	} else {
		require.NotContains(t, head, "job_cpu_usage")
	}
}

// A pytest-xdist job as execnet starts it: the controller matches, its two
// workers (`python -u -c "import sys;exec(eval(sys.stdin.readline()))"`) do
// not, yet they are reported in its job, named by their command lines, and
// their CPU and memory count in the job's figures. Once the controller is
// gone, the workers belong to no match and are not reported.
func TestExecnetWorkersAreTheJob(t *testing.T) {
	// The system's interpreter, as a test run's is: a version manager's
	// shim would exec another one under another name.
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		var errPath error
		python, errPath = exec.LookPath("python3")
		require.NoError(t, errPath)
	}
	tag := fmt.Sprintf("tests/xdist_%d_%d.py", os.Getpid(), rand.Uint32())
	argv0 := "python3 -m pytest " + tag + " -n 2"
	// bash starts the workers, then becomes the controller (same PID), so
	// that they are its children, as execnet's are.
	worker := `"$1" -u -c "import sys;exec(eval(sys.stdin.readline()))"`
	cmd := exec.Command("bash", "-c",
		worker+` <<< '`+burnThenSleep+`' & `+worker+` <<< '"import time; time.sleep(600)"' & exec -a "$0" sleep 600`,
		argv0, python)
	require.NoError(t, cmd.Start())
	top := cmd.Process.Pid
	t.Cleanup(func() {
		killTree(top)
		_, _ = cmd.Process.Wait()
	})
	waitCmdline(t, top, argv0)

	p := newRealPlugin(t, tag)
	var job map[int]telegraf.Metric
	var scan telegraf.Metric
	proctest.WaitFor(t, 60*time.Second, "the controller, two workers, one having burnt its CPU, and a CPU usage", func() bool {
		job, scan = gatherJob(t, p, top)
		if len(job) != 3 {
			return false
		}
		_, hasUsage := job[top].Fields()["job_cpu_usage"]
		for pid, m := range job {
			if pid != top && m.Fields()["cpu_seconds"].(float64) >= 0.5 {
				return hasUsage
			}
		}
		return false
	})
	require.NotContains(t, job[top].Fields(), "descendant", "the controller matched")
	require.Equal(t, tag, job[top].Tags()["pattern"])
	for pid, m := range job {
		if pid == top {
			continue
		}
		require.Equal(t, true, m.Fields()["descendant"], "pid %d", pid)
		require.Equal(t, tag, m.Tags()["pattern"], "a worker is in its job's pattern")
		require.Equal(t, int64(top), m.Fields()["ppid"])
		require.Equal(t, python+" "+execnetWorker, m.Fields()["cmdline"])
		require.NotContains(t, m.Fields(), "job_processes", "only the top carries the job's figures")
	}
	requireJobFigures(t, job, top)
	require.Greater(t, job[top].Fields()["job_cpu_seconds"].(float64), job[top].Fields()["cpu_seconds"].(float64)+0.4,
		"the workers' CPU counts in the job's")
	require.Equal(t, int64(1), scan.Fields()["matched"])
	require.Equal(t, int64(2), scan.Fields()["descendants"])

	workers := childrenOf(top)
	require.Len(t, workers, 2)
	proctest.KillAndWait(t, top)
	_, _ = cmd.Process.Wait()
	got := gatherReal(t, p)
	for _, w := range workers {
		require.NotContains(t, got, strconv.Itoa(w), "a worker outside any job matches nothing")
		_ = syscall.Kill(w, syscall.SIGKILL)
	}
}

// pythonWithXdist is an interpreter that runs pytest-xdist (Debian's
// python3-pytest-xdist, which scripts/install-test-deps.sh installs).
func pythonWithXdist(t *testing.T) string {
	for _, python := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(python, "-c", "import xdist, pytest").Run() == nil {
			if abs, err := exec.LookPath(python); err == nil {
				return abs
			}
		}
	}
	if os.Geteuid() == 0 {
		t.Fatal("no python3 with pytest-xdist: scripts/install-test-deps.sh installs python3-pytest-xdist")
	}
	t.Skip("no python3 with pytest-xdist, and not root to install it (make test installs it)")
	return ""
}

// A real `pytest -n 2`: its workers, which the default pattern does not
// match, are in the controller's job, and their CPU in its figures.
func TestRealPytestXdist(t *testing.T) {
	python := pythonWithXdist(t)
	dir := filepath.Join(t.TempDir(), fmt.Sprintf("xdist_%d_%d", os.Getpid(), rand.Uint32()))
	require.NoError(t, os.Mkdir(dir, 0o755))
	release := filepath.Join(dir, "release")
	// Each test burns a little CPU, then waits for the release file; the
	// bound only keeps a test run that lost its test from leaving them.
	testFile := `import os, time

def work():
    t = time.process_time()
    while time.process_time() - t < 0.3:
        pass
    deadline = time.monotonic() + 600
    while not os.path.exists(` + strconv.Quote(release) + `) and time.monotonic() < deadline:
        time.sleep(0.05)

def test_one():
    work()

def test_two():
    work()
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "test_xdist.py"), []byte(testFile), 0o644))
	cmd := exec.Command(python, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "-q", dir)
	cmd.Dir = dir
	run := proctest.StartCmd(t, cmd)
	top := run.PID()
	t.Cleanup(func() { killTree(top) })

	p := newRealPlugin(t, dir)
	var job map[int]telegraf.Metric
	var scan telegraf.Metric
	proctest.WaitFor(t, 120*time.Second, "pytest -n 2 with its two workers having run their tests' CPU", func() bool {
		require.False(t, run.Exited(), "pytest ended early: %v\n%s%s", run.Err(), run.Stdout, run.Stderr)
		job, scan = gatherJob(t, p, top)
		workers := 0
		for pid, m := range job {
			if pid != top && m.Fields()["cmdline"] == python+" "+execnetWorker && m.Fields()["cpu_seconds"].(float64) >= 0.3 {
				workers++
			}
		}
		_, hasUsage := job[top].Fields()["job_cpu_usage"]
		return workers == 2 && hasUsage
	})
	require.NotContains(t, job[top].Fields(), "descendant", "the controller matched")
	for pid, m := range job {
		if pid != top {
			require.Equal(t, true, m.Fields()["descendant"])
			require.Equal(t, dir, m.Tags()["pattern"])
		}
	}
	requireJobFigures(t, job, top)
	require.Greater(t, job[top].Fields()["job_cpu_seconds"].(float64), job[top].Fields()["cpu_seconds"].(float64)+0.5)
	require.Equal(t, int64(1), scan.Fields()["matched"])
	require.Equal(t, int64(len(job)-1), scan.Fields()["descendants"])

	require.NoError(t, os.WriteFile(release, nil, 0o644))
	require.NoError(t, run.Wait(t, 120*time.Second), "%s%s", run.Stdout, run.Stderr)
	require.Contains(t, run.Stdout.String(), "2 passed")
}
