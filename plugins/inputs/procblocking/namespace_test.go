//go:build linux

package procblocking

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// needRoot skips a test that needs root to create namespaces or mounts; the
// tests run as root here and in CI.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates PID or mount namespaces")
	}
	for _, tool := range []string{"unshare", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (util-linux): %v", tool, err)
		}
	}
}

// runHelperCmd runs a copy of this test binary as a helper and decodes its
// report; the processes it says it spawned are ended when the test ends.
func runHelperCmd(t *testing.T, cmd *exec.Cmd, helper string, env ...string) helperReport {
	t.Helper()
	cmd.Env = append(append(os.Environ(), helperEnv+"="+helper), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var report helperReport
	if stdout.Len() > 0 {
		require.NoError(t, json.Unmarshal([]byte(stdout.String()), &report), "helper output: %s", stdout.String())
	}
	t.Cleanup(func() {
		for _, pid := range report.Spawned {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	require.NoError(t, err, "helper %s failed: %s", helper, stderr.String())
	return report
}

// inInitialPIDNamespace tells whether this test runs in the host's PID
// namespace (not, e.g., under scripts/test-in-pidns.sh).
func inInitialPIDNamespace(t *testing.T) bool {
	t.Helper()
	link, err := os.Readlink("/proc/self/ns/pid")
	require.NoError(t, err)
	return link == initPIDNamespace
}

// Under HOST_PROC the agent runs in a PID namespace of its own and scans an
// outer one's /proc: "self" is its PID there, not os.Getpid(). The helper
// is given, inside its namespace, the very PID a matching process has
// outside: that process must be reported, and the helper, whose command
// line matches too, must not.
func TestSelfFromProcRoot(t *testing.T) {
	needRoot(t)
	tag := fmt.Sprintf("self_%d_%d", os.Getpid(), rand.Uint32())
	outside := startNamed(t, "python3 -m pytest tests/"+tag+".py")
	pid := outside.Process.Pid

	// unshare makes sh PID 1 of a new PID namespace without a /proc of its
	// own, so the helper scans the outer /proc as through HOST_PROC. sh sets
	// the namespace's last PID so that the helper it forks gets pid.
	cmd := exec.Command("unshare", "--pid", "--fork", "--kill-child", "sh", "-c",
		`echo "$1" > /proc/sys/kernel/ns_last_pid && "$0" "$2"; exit $?`,
		os.Args[0], strconv.Itoa(pid-1), tag)
	report := runHelperCmd(t, cmd, "scan", "PROCBLOCKING_TEST_ROOT=/proc", "PROCBLOCKING_TEST_PATTERN="+tag)

	require.Equal(t, pid, report.PID, "the helper runs as the outside process's PID in its namespace")
	require.NotZero(t, report.SelfPID)
	require.NotEqual(t, int64(pid), report.SelfPID, "the proc root sees the helper under another PID")
	require.Empty(t, report.Errors)

	m, ok := report.process(pid)
	require.True(t, ok, "the outside process with the helper's in-namespace PID was skipped: %+v", report.Metrics)
	require.Equal(t, tag, m.Tags["pattern"])
	_, ok = report.process(int(report.SelfPID))
	require.False(t, ok, "the helper reported itself")

	// Seen from a child namespace, an outer /proc is the host's exactly when
	// the outer namespace is the initial one.
	scan, ok := report.scan()
	require.True(t, ok)
	require.Equal(t, inInitialPIDNamespace(t), scan.Fields["host_view"])
	if inInitialPIDNamespace(t) {
		require.Empty(t, report.Warnings)
	}
}

// An agent in a PID namespace of its own, with that namespace's /proc (a
// container without `pid: host`), does not see the host: host_view is false
// and the start-up warning names the fix.
func TestHostViewInOwnPIDNamespace(t *testing.T) {
	needRoot(t)
	tag := fmt.Sprintf("ownns_%d_%d", os.Getpid(), rand.Uint32())
	outside := startNamed(t, "python3 -m pytest tests/"+tag+".py")

	cmd := exec.Command("unshare", "--pid", "--fork", "--kill-child", "--mount-proc", os.Args[0], tag)
	report := runHelperCmd(t, cmd, "scan", "PROCBLOCKING_TEST_ROOT=/proc", "PROCBLOCKING_TEST_PATTERN="+tag)

	require.Equal(t, 1, report.PID, "the helper is PID 1 of its namespace")
	require.Equal(t, int64(1), report.SelfPID)
	_, ok := report.process(outside.Process.Pid)
	require.False(t, ok)
	scan, ok := report.scan()
	require.True(t, ok)
	require.Equal(t, false, scan.Fields["host_view"])
	require.Equal(t, true, scan.Fields["ok"])
	require.Len(t, report.Warnings, 1)
	require.Contains(t, report.Warnings[0], "it is the agent's own PID namespace")
	require.Contains(t, report.Warnings[0], "`pid: host`")
	require.Contains(t, report.Warnings[0], "HOST_PROC")
}

// The real /proc: host_view is true in the host's PID namespace, false in
// any other.
func TestHostViewRealProc(t *testing.T) {
	p := newRealPlugin(t, "no-process-has-this-pattern-0x5eed")
	var acc testutil.Accumulator
	require.NoError(t, p.Gather(&acc))
	require.Empty(t, acc.Errors)
	require.Equal(t, inInitialPIDNamespace(t), scanOf(t, &acc).Fields()["host_view"])
}

// A /proc mounted with hidepid=2, read by an unprivileged agent: it sees its
// own user's processes only. The helper mounts one in a mount namespace of
// its own, starts a root pytest and two of user nobody (one whose parent is
// root's, one whose parent is nobody's), then drops to nobody and scans.
func TestHidepidRealMount(t *testing.T) {
	needRoot(t)
	tag := fmt.Sprintf("hidepid_%d_%d", os.Getpid(), rand.Uint32())
	// nobody must reach the mount point: /tmp/<dir>, not the test's 0700
	// temp dir.
	dir, err := os.MkdirTemp("", "procblocking-hidepid-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.Remove(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))

	cmd := exec.Command(os.Args[0])
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	report := runHelperCmd(t, cmd, "hidepid", "PROCBLOCKING_TEST_ROOT="+dir, "PROCBLOCKING_TEST_PATTERN="+tag)
	require.Len(t, report.Spawned, 6)
	rootPID, hiddenParentPID, visibleParentPID := report.Spawned[3], report.Spawned[4], report.Spawned[5]
	require.Empty(t, report.Errors)

	_, ok := report.process(rootPID)
	require.False(t, ok, "root's process is hidden from nobody")

	m, ok := report.process(hiddenParentPID)
	require.True(t, ok, "nobody's own process is seen: %+v", report.Metrics)
	require.NotContains(t, m.Fields, "orphan", "its parent is root's and hidden: orphan state unknown")

	m, ok = report.process(visibleParentPID)
	require.True(t, ok)
	require.Equal(t, false, m.Fields["orphan"], "its parent is nobody's, seen: not an orphan")

	scan, ok := report.scan()
	require.True(t, ok)
	require.Equal(t, false, scan.Fields["host_view"])
	require.Equal(t, true, scan.Fields["ok"])
	require.EqualValues(t, 1, scan.Fields["errors"], "the hidden parent's status")
	i := slices.IndexFunc(report.Warnings, func(w string) bool { return strings.Contains(w, "hidepid=invisible") })
	require.GreaterOrEqual(t, i, 0, "no hidepid warning in %q", report.Warnings)
	require.Contains(t, report.Warnings[i], "uid 65534")
	require.Contains(t, report.Warnings[i], "gid=")
}

// helperHidepid is the helper of TestHidepidRealMount, root in a mount
// namespace of its own until it scans.
func helperHidepid(dir, tag string) (helperReport, error) {
	var report helperReport
	if err := unix.Mount("proc", dir, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "hidepid=2"); err != nil {
		return report, fmt.Errorf("mounting proc with hidepid=2 on %s: %w", dir, err)
	}
	start := func(argv ...string) error {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return err
		}
		report.Spawned = append(report.Spawned, cmd.Process.Pid)
		return nil
	}
	asNobody := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--pdeathsig", "KILL"}
	sleeper := func(argv0 string) []string { return []string{"bash", "-c", `exec -a "$0" sleep 600`, argv0} }
	background := []string{"bash", "-c", `"$@" & wait`, "_"}
	rootArgv0 := "python3 -m pytest tests/root_" + tag + ".py"
	hiddenArgv0 := "python3 -m pytest tests/hidden_parent_" + tag + ".py"
	visibleArgv0 := "python3 -m pytest tests/visible_parent_" + tag + ".py"
	for _, argv := range [][]string{
		sleeper(rootArgv0),
		slices.Concat(background, asNobody, sleeper(hiddenArgv0)),
		slices.Concat(asNobody, background, sleeper(visibleArgv0)),
	} {
		if err := start(argv...); err != nil {
			return report, err
		}
	}
	pids, err := waitForCmdlines(rootArgv0, hiddenArgv0, visibleArgv0)
	report.Spawned = append(report.Spawned, pids...)
	if err != nil {
		return report, err
	}

	if err := syscall.Setgroups(nil); err != nil {
		return report, err
	}
	if err := syscall.Setgid(65534); err != nil {
		return report, err
	}
	if err := syscall.Setuid(65534); err != nil {
		return report, err
	}
	scan, err := helperScan(dir, tag)
	scan.Spawned = report.Spawned
	return scan, err
}

// newFactoryPlugin is the plugin from its factory, for helpers that have no
// *testing.T.
func newFactoryPlugin() *ProcBlocking {
	return inputs.Inputs["procblocking"]().(*ProcBlocking)
}
