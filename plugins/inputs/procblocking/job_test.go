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

	"github.com/stretchr/testify/require"
)

func TestAssignJobs(t *testing.T) {
	proc := func(pid, ppid, created int64, young bool) procInfo {
		return procInfo{pid: pid, createdAtNs: created, young: young, stat: procStat{ppid: ppid}}
	}
	tests := []struct {
		name  string
		procs []procInfo
		want  map[int64]int64 // pid -> job pid
	}{
		{
			name:  "no parent matches",
			procs: []procInfo{proc(10, 1, 5, false), proc(20, 1, 6, false)},
			want:  map[int64]int64{10: 10, 20: 20},
		},
		{
			// sh -c "pytest" -> pytest -> pytest worker
			name:  "chain",
			procs: []procInfo{proc(10, 1, 5, false), proc(11, 10, 6, false), proc(12, 11, 7, false)},
			want:  map[int64]int64{10: 10, 11: 10, 12: 10},
		},
		{
			// A parent below min_age is not reported, but it is in the
			// chain all the same, and its job's figures count it.
			name:  "young top",
			procs: []procInfo{proc(10, 1, 5, true), proc(11, 10, 5, false)},
			want:  map[int64]int64{10: 10, 11: 10},
		},
		{
			// The parent's PID was reused by a process that started after
			// the child: not its parent.
			name:  "reused parent PID",
			procs: []procInfo{proc(10, 1, 9, false), proc(11, 10, 6, false)},
			want:  map[int64]int64{10: 10, 11: 11},
		},
		{
			name:  "own parent",
			procs: []procInfo{proc(10, 10, 5, false)},
			want:  map[int64]int64{10: 10},
		},
		{
			// Only a damaged tree holds a cycle; the walk must end.
			name:  "cycle",
			procs: []procInfo{proc(10, 11, 5, false), proc(11, 10, 5, false)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assignJobs(tt.procs)
			created := map[int64]int64{}
			for _, p := range tt.procs {
				created[p.pid] = p.createdAtNs
			}
			for _, p := range tt.procs {
				if tt.want == nil {
					require.Contains(t, []int64{10, 11}, p.jobPID)
				} else {
					require.Equal(t, tt.want[p.pid], p.jobPID, "pid %d", p.pid)
				}
				require.Equal(t, created[p.jobPID], p.jobCreatedAtNs, "pid %d", p.pid)
			}
		})
	}
}

// A wrapped job in a fake tree: bash (no match) -> sh -c "... pytest ..."
// -> pytest -> pytest worker and an execnet worker that matches nothing,
// and a pytest whose parent does not match. A fake tree has no children
// files: the children come from the stat of every process.
func TestJobsInFixture(t *testing.T) {
	root := basicTree(t)
	write := func(pid, ppid int, start uint64, cmdline string) {
		require.NoError(t, os.MkdirAll(filepath.Join(root, strconv.Itoa(pid)), 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(root, strconv.Itoa(pid), "cmdline"), []byte(strings.ReplaceAll(cmdline, " ", "\x00")+"\x00"), 0o600))
		writeStat(t, root, pid, ppid, 0, start)
		require.NoError(t, os.WriteFile(filepath.Join(root, strconv.Itoa(pid), "status"), []byte(fmt.Sprintf("NSpid:\t%d\n", pid)), 0o600))
	}
	write(800, 250, 1000, "sh -c cd_repo_&&_pytest")
	write(810, 800, 1100, "pytest -x")
	write(820, 810, 1200, "python3 -c from_xdist_import_worker pytest")
	write(830, 810, 1300, "python3 -u -c import_sys;exec(eval(sys.stdin.readline()))")
	write(840, 250, 1300, "python3 -u -c import_sys;exec(eval(sys.stdin.readline()))")
	p := newFixturePlugin(t, root, nil)
	acc := gather(t, p, root)
	require.Empty(t, acc.Errors)
	jobs := map[string]int64{}
	for _, m := range acc.GetTelegrafMetrics() {
		if m.Name() != "procblocking" {
			continue
		}
		jobs[m.Tags()["pid"]] = m.Fields()["job_pid"].(int64)
		top := strconv.FormatInt(m.Fields()["job_pid"].(int64), 10)
		topMetric, ok := findProc(acc, top)
		require.True(t, ok)
		require.Equal(t, topMetric.Fields()["created_at"], m.Fields()["job_created_at"])
	}
	require.Equal(t, map[string]int64{"100": 100, "300": 300, "600": 600, "800": 800, "810": 800, "820": 800, "830": 800}, jobs,
		"840 is no match's descendant")
	worker, ok := findProc(acc, "830")
	require.True(t, ok)
	require.Equal(t, true, worker.Fields()["descendant"])
	require.Equal(t, "pytest", worker.Tags()["pattern"], "its job's pattern")
	top, ok := findProc(acc, "800")
	require.True(t, ok)
	require.NotContains(t, top.Fields(), "descendant")
	require.Equal(t, int64(4), top.Fields()["job_processes"])

	// The wrapper exits: its children are reparented onto init, and the
	// next scan makes the pytest the top of its own job.
	require.NoError(t, os.RemoveAll(filepath.Join(root, "800")))
	writeStat(t, root, 810, 1, 0, 1100)
	acc = gather(t, p, root)
	m, ok := findProc(acc, "820")
	require.True(t, ok)
	require.Equal(t, int64(810), m.Fields()["job_pid"])
	m, ok = findProc(acc, "830")
	require.True(t, ok)
	require.Equal(t, int64(810), m.Fields()["job_pid"])
	m, ok = findProc(acc, "810")
	require.True(t, ok)
	require.Equal(t, int64(810), m.Fields()["job_pid"])
	require.Equal(t, true, m.Fields()["orphan"])
}

// Real processes: a pytest-like wrapper whose child and grandchild match too
// form one job; when the wrapper is killed, the child becomes the top.
func TestRealJob(t *testing.T) {
	tag := fmt.Sprintf("tests/job_%d_%d.py", os.Getpid(), rand.Uint32())
	argv0 := "python3 -m pytest " + tag
	// bash forks the child, which forks the grandchild, then each becomes
	// a sleep under its own argv[0].
	cmd := exec.Command("bash", "-c",
		`( ( exec -a "$0 grandchild" sleep 600 ) & exec -a "$0 child" sleep 600 ) & exec -a "$0" sleep 600`, argv0)
	require.NoError(t, cmd.Start())
	top := cmd.Process.Pid
	pids, err := waitForCmdlines(argv0, argv0+" child", argv0+" grandchild")
	t.Cleanup(func() {
		for _, pid := range pids {
			if pid != 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_, _ = cmd.Process.Wait()
	})
	require.NoError(t, err)
	require.Equal(t, top, pids[0])
	child, grandchild := pids[1], pids[2]

	p := newRealPlugin(t, tag)
	got := gatherReal(t, p)
	require.Len(t, got, 3)
	created := got[strconv.Itoa(top)].Fields()["created_at"]
	for _, pid := range pids {
		m := got[strconv.Itoa(pid)]
		require.Equal(t, int64(top), m.Fields()["job_pid"], "pid %d", pid)
		require.Equal(t, created, m.Fields()["job_created_at"], "pid %d", pid)
	}

	require.NoError(t, cmd.Process.Kill())
	_, _ = cmd.Process.Wait()
	got = gatherReal(t, p)
	require.Len(t, got, 2)
	for _, pid := range []int{child, grandchild} {
		m := got[strconv.Itoa(pid)]
		require.Equal(t, int64(child), m.Fields()["job_pid"], "pid %d", pid)
		require.Equal(t, got[strconv.Itoa(child)].Fields()["created_at"], m.Fields()["job_created_at"])
	}
}
