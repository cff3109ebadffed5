//go:build linux

package procblocking

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The fixture trees boot at btime 1700000000; the clock reads one hour later.
var fixtureNow = time.Unix(1700003600, 0)

const (
	idDocker = "3f4e0b2c1d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c"
	idKube   = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	// fixtureSelf plays the agent in proc_basic: basicTree makes <root>/self
	// link to it, as a real /proc does for the reading process.
	fixtureSelf = 700
)

// sharedTestdata holds the fake proc trees that more than one package uses.
const sharedTestdata = "../../../testdata"

// fixtureTree copies a fake proc tree of the shared testdata into a temp
// dir, so that tests may change it, and gives every PID an environ that is a
// FIFO: opening it would block the scan forever.
func fixtureTree(t *testing.T, name string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "proc")
	require.NoError(t, os.CopyFS(root, os.DirFS(filepath.Join(sharedTestdata, name))))
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() {
			require.NoError(t, unix.Mkfifo(filepath.Join(root, e.Name(), "environ"), 0o600))
		}
	}
	return root
}

// initPIDNamespace is how /proc/<pid>/ns/pid reads in the host's PID
// namespace (its inode number is fixed).
const initPIDNamespace = "pid:[4026531836]"

// basicTree is proc_basic as the agent, PID 700 of the host's PID namespace,
// sees it.
func basicTree(t *testing.T) string {
	t.Helper()
	root := fixtureTree(t, "proc_basic")
	makeSelf(t, root, fixtureSelf, initPIDNamespace)
	return root
}

// makeSelf turns <root>/self into a link to pid, as in a real /proc, and
// gives that PID the PID namespace nsLink.
func makeSelf(t *testing.T, root string, pid int, nsLink string) {
	t.Helper()
	require.NoError(t, os.RemoveAll(filepath.Join(root, "self")))
	require.NoError(t, os.Symlink(strconv.Itoa(pid), filepath.Join(root, "self")))
	ns := filepath.Join(root, strconv.Itoa(pid), "ns")
	require.NoError(t, os.MkdirAll(ns, 0o700))
	require.NoError(t, os.Symlink(nsLink, filepath.Join(ns, "pid")))
}

// newPlugin builds the plugin as Telegraf does, from the registered factory,
// so that every default applies.
func newPlugin(t *testing.T) *ProcBlocking {
	t.Helper()
	p, ok := inputs.Inputs["procblocking"]().(*ProcBlocking)
	require.True(t, ok)
	p.Log = testutil.Logger{}
	return p
}

// newFixturePlugin builds the plugin over a fake tree with the fixture clock.
func newFixturePlugin(t *testing.T, root string, modify func(*ProcBlocking)) *ProcBlocking {
	t.Helper()
	p := newPlugin(t)
	p.Patterns = []string{"pytest"}
	p.ProcRoot = root
	p.state.now = func() time.Time { return fixtureNow }
	if modify != nil {
		modify(p)
	}
	require.NoError(t, p.Init())
	return p
}

// gather runs one Gather; should it hang on a FIFO it fails the test and
// unblocks the reader by opening the FIFOs for writing.
func gather(t *testing.T, p *ProcBlocking, root string) *testutil.Accumulator {
	t.Helper()
	var acc testutil.Accumulator
	done := make(chan error, 1)
	go func() { done <- p.Gather(&acc) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		fifos, _ := filepath.Glob(filepath.Join(root, "*", "environ"))
		for _, f := range fifos {
			if fd, err := unix.Open(f, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
				unix.Close(fd)
			}
		}
		<-done
		t.Fatal("Gather blocked: it opened an environ FIFO")
	}
	return &acc
}

func pageSize() int64 { return int64(os.Getpagesize()) }

// basicMetrics is what proc_basic yields at fixtureNow for pattern "pytest".
func basicMetrics() []telegraf.Metric {
	return []telegraf.Metric{
		metric.New("procblocking",
			map[string]string{"pattern": "pytest", "pid": "100"},
			map[string]any{
				"age_seconds":    3599.0,
				"cpu_seconds":    3.0,
				"created_at":     int64(1700000001) * 1e9,
				"ppid":           int64(1),
				"orphan":         true,
				"state":          "S",
				"comm":           "python3",
				"threads":        int64(4),
				"rss_bytes":      2560 * pageSize(),
				"cmdline":        "python3 -m pytest tests/x.py",
				"container_id":   idDocker,
				"job_pid":        int64(100),
				"job_created_at": int64(1700000001) * 1e9,
			}, fixtureNow),
		metric.New("procblocking",
			map[string]string{"pattern": "pytest", "pid": "300"},
			map[string]any{
				"age_seconds":    0.0,
				"cpu_seconds":    1.0,
				"created_at":     int64(1700003600) * 1e9,
				"ppid":           int64(250),
				"orphan":         false,
				"state":          "R",
				"comm":           "py) (test",
				"threads":        int64(2),
				"rss_bytes":      1024 * pageSize(),
				"cmdline":        "python3 -m pytest tests/y.py --token=*** https://bob:***@git.example.com/r.git",
				"container_id":   idKube,
				"job_pid":        int64(300),
				"job_created_at": int64(1700003600) * 1e9,
			}, fixtureNow),
		metric.New("procblocking",
			map[string]string{"pattern": "pytest", "pid": "600"},
			map[string]any{
				"age_seconds":    1800.0,
				"cpu_seconds":    0.0,
				"created_at":     int64(1700001800) * 1e9,
				"ppid":           int64(610),
				"orphan":         true,
				"state":          "S",
				"comm":           "pytest",
				"threads":        int64(1),
				"rss_bytes":      50 * pageSize(),
				"cmdline":        "python3 -m pytest tests/z.py",
				"container_id":   idDocker,
				"job_pid":        int64(600),
				"job_created_at": int64(1700001800) * 1e9,
			}, fixtureNow),
	}
}

func scanMetric(processes, matched, errors int64) telegraf.Metric {
	return metric.New("procblocking_scan", map[string]string{},
		map[string]any{
			"processes":   processes,
			"matched":     matched,
			"descendants": int64(0),
			"errors":      errors,
			"duration_ms": 0.0,
			"ok":          true,
			"host_view":   true,
		}, fixtureNow)
}

func TestGatherFixture(t *testing.T) {
	root := basicTree(t)
	p := newFixturePlugin(t, root, nil)
	acc := gather(t, p, root)

	// 10 PIDs: the kernel thread (400) and the zombie (500) have no command
	// line, 700 is the plugin itself, 200/250/1/610 do not match.
	expected := append(basicMetrics(), scanMetric(10, 3, 0))
	require.Empty(t, acc.Errors)
	testutil.RequireMetricsEqual(t, expected, acc.GetTelegrafMetrics(), testutil.IgnoreFields("duration_ms"))
}

func TestNeverOpensEnviron(t *testing.T) {
	root := basicTree(t)
	// Every process matches, so every per-process read path runs.
	p := newFixturePlugin(t, root, func(p *ProcBlocking) {
		p.Patterns = []string{"^"}
		p.PatternType = "regex"
	})
	acc := gather(t, p, root)
	require.Empty(t, acc.Errors)
	scan := acc.GetTelegrafMetrics()[len(acc.GetTelegrafMetrics())-1]
	require.Equal(t, int64(7), scan.Fields()["matched"])
}

func TestKernelThreadAndZombieNotMatched(t *testing.T) {
	root := basicTree(t)
	// "^" matches any command line, even one without "pytest".
	p := newFixturePlugin(t, root, func(p *ProcBlocking) {
		p.Patterns = []string{"^"}
		p.PatternType = "regex"
	})
	acc := gather(t, p, root)
	var pids []string
	for _, m := range acc.GetTelegrafMetrics() {
		if m.Name() != "procblocking" {
			continue
		}
		pids = append(pids, m.Tags()["pid"])
		if m.Tags()["pid"] == "1" {
			// PID 1 has no parent (ppid 0): it is nobody's orphan.
			require.Equal(t, int64(0), m.Fields()["ppid"])
			require.Equal(t, false, m.Fields()["orphan"])
		}
	}
	require.Equal(t, []string{"1", "100", "200", "250", "300", "600", "610"}, pids)
	scan := acc.GetTelegrafMetrics()[len(pids)]
	require.Equal(t, "procblocking_scan", scan.Name())
	require.Equal(t, int64(0), scan.Fields()["errors"])
}

func TestFirstPatternWins(t *testing.T) {
	root := basicTree(t)
	p := newFixturePlugin(t, root, func(p *ProcBlocking) {
		p.Patterns = []string{`tests/[xz]\.py$`, `pytest`}
		p.PatternType = "regex"
	})
	acc := gather(t, p, root)
	got := map[string]string{}
	for _, m := range acc.GetTelegrafMetrics() {
		if m.Name() == "procblocking" {
			got[m.Tags()["pid"]] = m.Tags()["pattern"]
		}
	}
	require.Equal(t, map[string]string{"100": `tests/[xz]\.py$`, "300": "pytest", "600": `tests/[xz]\.py$`}, got)
}

func TestSkipsOwnPID(t *testing.T) {
	root := fixtureTree(t, "proc_basic")
	makeSelf(t, root, 100, initPIDNamespace)
	p := newFixturePlugin(t, root, nil)
	acc := gather(t, p, root)
	var pids []string
	for _, m := range acc.GetTelegrafMetrics() {
		if m.Name() == "procblocking" {
			pids = append(pids, m.Tags()["pid"])
		}
	}
	// 700 matches once it is no longer "us"; 100 is now "us".
	require.Equal(t, []string{"300", "600", "700"}, pids)
}

func TestMinAge(t *testing.T) {
	root := basicTree(t)
	p := newFixturePlugin(t, root, func(p *ProcBlocking) { p.MinAge = config.Duration(30 * time.Minute) })
	acc := gather(t, p, root)
	all := basicMetrics()
	expected := []telegraf.Metric{all[0], all[2], scanMetric(10, 2, 0)}
	testutil.RequireMetricsEqual(t, expected, acc.GetTelegrafMetrics(), testutil.IgnoreFields("duration_ms"))
}

// A match below min_age costs its stat only: its parent's status and its
// cgroup are not read and its command line is not rendered. Its CPU time is
// still kept, so that cpu_usage is there the first time it is reported.
func TestMinAgeSkipsYoungProcessesCheaply(t *testing.T) {
	root := basicTree(t)
	clock := fixtureNow
	p := newFixturePlugin(t, root, func(p *ProcBlocking) {
		p.MinAge = config.Duration(30 * time.Minute)
		p.state.now = func() time.Time { return clock }
	})
	steps := map[int64][]string{}
	p.state.scanner.hook = func(step string, pid int64) { steps[pid] = append(steps[pid], step) }

	// PID 300 started at fixtureNow: below min_age.
	acc := gather(t, p, root)
	_, reported := findProc(acc, "300")
	require.False(t, reported)
	require.Equal(t, []string{stepListed, stepMatched}, steps[300], "nothing read past the stat")
	require.Equal(t, []string{stepListed, stepMatched, stepStat, stepOrphaned}, steps[100], "an old match is read whole")

	clock = clock.Add(31 * time.Minute)
	m, reported := findProc(gather(t, p, root), "300")
	require.True(t, reported)
	require.Contains(t, m.Fields(), "cpu_usage", "the young scan's CPU time was kept")
	require.Equal(t, "python3 -m pytest tests/y.py --token=*** https://bob:***@git.example.com/r.git", m.Fields()["cmdline"])
}

func findProc(acc *testutil.Accumulator, pid string) (telegraf.Metric, bool) {
	for _, m := range acc.GetTelegrafMetrics() {
		if m.Name() == "procblocking" && m.Tags()["pid"] == pid {
			return m, true
		}
	}
	return nil, false
}

func writeStat(t *testing.T, root string, pid, ppid int, utime, start uint64) {
	t.Helper()
	fields := make([]string, 52)
	for i := range fields {
		fields[i] = "0"
	}
	fields[0], fields[1], fields[2], fields[3] = strconv.Itoa(pid), "(python3)", "S", strconv.Itoa(ppid)
	fields[13], fields[19], fields[21] = strconv.FormatUint(utime, 10), "1", strconv.FormatUint(start, 10)
	line := ""
	for i, f := range fields {
		if i > 0 {
			line += " "
		}
		line += f
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, strconv.Itoa(pid), "stat"), []byte(line+"\n"), 0o600))
}

func cpuUsageOf(t *testing.T, acc *testutil.Accumulator, pid string) (float64, bool, int64) {
	t.Helper()
	for _, m := range acc.GetTelegrafMetrics() {
		if m.Name() == "procblocking" && m.Tags()["pid"] == pid {
			v, ok := m.Fields()["cpu_usage"]
			f, _ := v.(float64)
			return f, ok, m.Fields()["created_at"].(int64)
		}
	}
	t.Fatalf("pid %s not reported", pid)
	return 0, false, 0
}

func TestCPUUsageAndPIDReuse(t *testing.T) {
	root := basicTree(t)
	clock := fixtureNow
	p := newFixturePlugin(t, root, func(p *ProcBlocking) { p.state.now = func() time.Time { return clock } })

	writeStat(t, root, 100, 1, 1000, 100)
	_, ok, created := cpuUsageOf(t, gather(t, p, root), "100")
	require.False(t, ok, "no cpu_usage on a process's first gather")

	// 5 s of CPU in 10 s: 50% of one core.
	clock = clock.Add(10 * time.Second)
	writeStat(t, root, 100, 1, 1500, 100)
	usage, ok, again := cpuUsageOf(t, gather(t, p, root), "100")
	require.True(t, ok)
	require.InDelta(t, 50.0, usage, 1e-9)
	require.Equal(t, created, again)

	// The PID is reused within one interval by a process started later,
	// with less CPU time: its usage starts over instead of going negative.
	clock = clock.Add(10 * time.Second)
	writeStat(t, root, 100, 1, 10, 360500)
	_, ok, reused := cpuUsageOf(t, gather(t, p, root), "100")
	require.False(t, ok, "a reused PID starts over")
	require.NotEqual(t, created, reused)

	clock = clock.Add(10 * time.Second)
	writeStat(t, root, 100, 1, 110, 360500)
	usage, ok, _ = cpuUsageOf(t, gather(t, p, root), "100")
	require.True(t, ok)
	require.InDelta(t, 10.0, usage, 1e-9)

	// Only current matches are remembered: memory stays bounded.
	require.Contains(t, p.state.prev, int64(100))
	require.NoError(t, os.RemoveAll(filepath.Join(root, "100")))
	clock = clock.Add(10 * time.Second)
	gather(t, p, root)
	require.NotContains(t, p.state.prev, int64(100))
	require.Len(t, p.state.prev, 2)
}

func scanOf(t *testing.T, acc *testutil.Accumulator) telegraf.Metric {
	t.Helper()
	ms := acc.GetTelegrafMetrics()
	require.NotEmpty(t, ms)
	last := ms[len(ms)-1]
	require.Equal(t, "procblocking_scan", last.Name(), "the scan metric comes last")
	return last
}

func TestProcRootGoesAndComesBack(t *testing.T) {
	root := basicTree(t)
	p := newFixturePlugin(t, root, nil)
	require.Equal(t, true, scanOf(t, gather(t, p, root)).Fields()["ok"])

	faults := []struct {
		name          string
		break_, mend_ func()
	}{
		{
			name:   "proc root gone",
			break_: func() { require.NoError(t, os.Rename(root, root+".away")) },
			mend_:  func() { require.NoError(t, os.Rename(root+".away", root)) },
		},
		{
			name: "proc root replaced by a file",
			break_: func() {
				require.NoError(t, os.Rename(root, root+".away"))
				require.NoError(t, os.WriteFile(root, []byte("not a directory"), 0o600))
			},
			mend_: func() {
				require.NoError(t, os.Remove(root))
				require.NoError(t, os.Rename(root+".away", root))
			},
		},
		{
			name:   "btime unreadable",
			break_: func() { require.NoError(t, os.Rename(filepath.Join(root, "stat"), filepath.Join(root, "stat.away"))) },
			mend_:  func() { require.NoError(t, os.Rename(filepath.Join(root, "stat.away"), filepath.Join(root, "stat"))) },
		},
		{
			name: "btime garbage",
			break_: func() {
				require.NoError(t, os.Rename(filepath.Join(root, "stat"), filepath.Join(root, "stat.away")))
				require.NoError(t, os.WriteFile(filepath.Join(root, "stat"), []byte("btime x\n"), 0o600))
			},
			mend_: func() { require.NoError(t, os.Rename(filepath.Join(root, "stat.away"), filepath.Join(root, "stat"))) },
		},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			f.break_()
			for range 2 {
				acc := gather(t, p, root)
				require.Len(t, acc.Errors, 1)
				require.Len(t, acc.GetTelegrafMetrics(), 1, "no process metrics from a failed scan")
				scan := scanOf(t, acc)
				require.Equal(t, false, scan.Fields()["ok"])
				require.Contains(t, scan.Fields()["error"], root)
				require.Equal(t, acc.Errors[0].Error(), scan.Fields()["error"])
			}
			f.mend_()
			acc := gather(t, p, root)
			require.Empty(t, acc.Errors)
			expected := append(basicMetrics(), scanMetric(10, 3, 0))
			testutil.RequireMetricsEqual(t, expected, acc.GetTelegrafMetrics(), testutil.IgnoreFields("duration_ms"))
		})
	}
}

func TestProcessVanishesMidScan(t *testing.T) {
	tests := []struct {
		name   string
		step   string
		pid    int64
		remove string // below the root
		// what is left of the fixture's three matches, and the error count
		want   []string
		errors int64
		orphan any // of PID 600 when reported; nil: the field is left out
	}{
		{name: "gone before cmdline", step: stepListed, pid: 100, remove: "100", want: []string{"300", "600"}, errors: 1, orphan: true},
		{name: "gone before stat", step: stepMatched, pid: 100, remove: "100", want: []string{"300", "600"}, errors: 1, orphan: true},
		{name: "stat gone before stat", step: stepMatched, pid: 300, remove: "300/stat", want: []string{"100", "600"}, errors: 1, orphan: true},
		// The parent exits after the child's stat: the child is still
		// reported, its orphan state unknown (no orphan field), the failure
		// counted.
		{name: "parent gone before its status", step: stepStat, pid: 600, remove: "610/status", want: []string{"100", "300", "600"}, errors: 1, orphan: nil},
		// Alive when its stat was read: reported, without a container id.
		{name: "gone before cgroup", step: stepOrphaned, pid: 600, remove: "600", want: []string{"100", "300", "600"}, errors: 0, orphan: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := basicTree(t)
			logger := &testutil.CaptureLogger{Name: "inputs.procblocking"}
			p := newFixturePlugin(t, root, func(p *ProcBlocking) { p.Log = logger })
			p.state.scanner.hook = func(step string, pid int64) {
				if step == tt.step && pid == tt.pid {
					require.NoError(t, os.RemoveAll(filepath.Join(root, tt.remove)))
				}
			}
			acc := gather(t, p, root)
			require.Empty(t, acc.Errors, "a vanished process is no error of the gather")
			var pids []string
			for _, m := range acc.GetTelegrafMetrics() {
				if m.Name() != "procblocking" {
					continue
				}
				pids = append(pids, m.Tags()["pid"])
				if m.Tags()["pid"] == "600" {
					orphan, has := m.Fields()["orphan"]
					require.Equal(t, tt.orphan != nil, has)
					require.Equal(t, tt.orphan, orphan)
					_, hasID := m.Fields()["container_id"]
					require.Equal(t, tt.step != stepOrphaned, hasID)
				}
			}
			require.Equal(t, tt.want, pids)
			scan := scanOf(t, acc)
			require.Equal(t, true, scan.Fields()["ok"])
			require.Equal(t, tt.errors, scan.Fields()["errors"])
			require.Equal(t, int64(len(tt.want)), scan.Fields()["matched"])

			// Logged at debug level only: errors and warnings would make
			// `telegraf --test` fail for a process that merely exited.
			require.Empty(t, logger.Errors())
			require.Empty(t, logger.Warnings())
			var debug []string
			for _, e := range logger.Messages() {
				if e.Level == testutil.LevelDebug {
					debug = append(debug, e.Text)
				}
			}
			if tt.errors > 0 {
				require.NotEmpty(t, debug)
			}
		})
	}
}

func TestBrokenFiles(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		content string
		// pid 100 reported?
		reported    bool
		errors      int64
		orphan      any // nil: the field is left out
		containerID bool
	}{
		{name: "stat empty", file: "100/stat", content: "", errors: 1},
		{name: "stat truncated", file: "100/stat", content: "100 (python3) S 1 0 0 0 0 0 0 0 0 0 250", errors: 1},
		{name: "stat without comm", file: "100/stat", content: "100 python3 S 1 0 0", errors: 1},
		{name: "stat garbage", file: "100/stat", content: "\x00\xff(((\n))) x y z", errors: 1},
		{name: "stat non-numeric ppid", file: "100/stat", content: "100 (python3) S one 0 0 0 0 0 0 0 0 0 250 50 0 0 0 0 4 0 100 0 2560", errors: 1},
		{name: "parent status without NSpid", file: "1/status", content: "Name:\ttini\nPPid:\t0\n", reported: true, errors: 1, containerID: true},
		{name: "parent status garbage NSpid", file: "1/status", content: "NSpid:\tone\n", reported: true, errors: 1, containerID: true},
		{name: "parent status truncated", file: "1/status", content: "NSpid:", reported: true, errors: 1, containerID: true},
		{name: "cgroup garbage", file: "100/cgroup", content: "\xff\x00::::docker/zzz\n", reported: true, orphan: true},
		{name: "cgroup truncated id", file: "100/cgroup", content: "0::/docker/3f4e0b2c1d9a", reported: true, orphan: true},
		{name: "cgroup missing", file: "100/cgroup", reported: true, orphan: true},
		{name: "cmdline missing", file: "100/cmdline", errors: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := basicTree(t)
			path := filepath.Join(root, tt.file)
			if tt.content == "" && tt.file != "100/stat" {
				require.NoError(t, os.Remove(path))
			} else {
				require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
			}
			p := newFixturePlugin(t, root, nil)
			acc := gather(t, p, root)
			require.Empty(t, acc.Errors)
			var got telegraf.Metric
			for _, m := range acc.GetTelegrafMetrics() {
				if m.Name() == "procblocking" && m.Tags()["pid"] == "100" {
					got = m
				}
			}
			require.Equal(t, tt.reported, got != nil)
			if got != nil {
				orphan, has := got.Fields()["orphan"]
				require.Equal(t, tt.orphan != nil, has)
				require.Equal(t, tt.orphan, orphan)
				_, hasID := got.Fields()["container_id"]
				require.Equal(t, tt.containerID, hasID)
			}
			scan := scanOf(t, acc)
			require.Equal(t, true, scan.Fields()["ok"])
			require.Equal(t, tt.errors, scan.Fields()["errors"])
		})
	}
}

// manyMatchingTree is a fake tree of n pytest processes, PIDs 100 to
// 100+n-1, orphaned onto a tini. Its range holds the PIDs a test binary
// typically runs as, and scripts/test-in-pidns.sh runs it as PID 100.
func manyMatchingTree(t *testing.T, n int) string {
	t.Helper()
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "stat"), []byte("cpu  1 0 1 10 0 0 0 0 0 0\nbtime 1700000000\n"), 0o600))
	write := func(pid int, cmdline, stat, status string) {
		dir := filepath.Join(root, strconv.Itoa(pid))
		require.NoError(t, os.Mkdir(dir, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cmdline"), []byte(cmdline), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o600))
	}
	write(1, "tini\x00", "1 (tini) S 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 0 1 0 10", "NSpid:\t1\n")
	for pid := 100; pid < 100+n; pid++ {
		write(pid, "python3\x00-m\x00pytest\x00tests/t"+strconv.Itoa(pid)+".py\x00",
			strconv.Itoa(pid)+" (python3) S 1 0 0 0 0 0 0 0 0 0 7 3 0 0 0 0 1 0 100 0 10",
			"NSpid:\t"+strconv.Itoa(pid)+"\n")
	}
	return root
}

// Every process of the tree is reported, whatever PID the test runs as: the
// tree has no self, so nothing in it is the agent.
func TestManyMatchingProcesses(t *testing.T) {
	const n = 2000
	root := manyMatchingTree(t, n)
	p := newFixturePlugin(t, root, nil)
	acc := gather(t, p, root)
	require.Empty(t, acc.Errors)
	ms := acc.GetTelegrafMetrics()
	require.Equal(t, n+1, len(ms))
	for i, m := range ms[:n] {
		require.Equal(t, strconv.Itoa(100+i), m.Tags()["pid"])
		require.Equal(t, true, m.Fields()["orphan"])
		require.Equal(t, fixtureNow, m.Time())
	}
	scan := scanOf(t, acc)
	require.Equal(t, true, scan.Fields()["ok"])
	require.Equal(t, int64(n), scan.Fields()["matched"])
	require.Equal(t, int64(n+1), scan.Fields()["processes"])
	require.Equal(t, int64(0), scan.Fields()["errors"])

	// With a self, exactly that PID is the agent, and only it is left out.
	makeSelf(t, root, 1062, initPIDNamespace)
	acc = gather(t, p, root)
	require.Equal(t, n, len(acc.GetTelegrafMetrics()))
	var missing []int
	for i, m := range acc.GetTelegrafMetrics()[:n-1] {
		if m.Tags()["pid"] != strconv.Itoa(100+i+len(missing)) {
			missing = append(missing, 100+i+len(missing))
		}
	}
	require.Equal(t, []int{1062}, missing)
	require.Equal(t, int64(n-1), scanOf(t, acc).Fields()["matched"])
}

func TestNonMatchingProcessAllocatesNothing(t *testing.T) {
	root := basicTree(t)
	p := newFixturePlugin(t, root, nil)
	dirfd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(dirfd)
	var res scanResult
	parents := parentCache{}
	name := []byte("200")
	allocs := testing.AllocsPerRun(100, func() {
		_, ok := p.state.scanner.process(dirfd, name, 200, 1700000000, math.MaxInt64, parents, &res)
		if ok {
			panic("200 must not match")
		}
	})
	require.Zero(t, allocs)
	require.Zero(t, res.errors)
}

func TestInitErrors(t *testing.T) {
	root := basicTree(t)
	notProc := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(notProc, "stat"), []byte("cpu  1 2 3 4 0 0 0 0 0 0\nintr 0\n"), 0o600))
	tests := []struct {
		name   string
		modify func(*ProcBlocking)
		want   string
	}{
		{"patterns empty", func(p *ProcBlocking) { p.Patterns = []string{} }, `invalid 'patterns' "[]": nothing to match`},
		{"empty pattern", func(p *ProcBlocking) { p.Patterns = []string{"pytest", ""} }, `invalid 'patterns' "": empty pattern`},
		{"bad regex", func(p *ProcBlocking) { p.Patterns = []string{"py(test"}; p.PatternType = "regex" }, `invalid 'patterns' "py(test": error parsing regexp`},
		{"unknown pattern_type", func(p *ProcBlocking) { p.PatternType = "glob" }, `invalid 'pattern_type' "glob": want "substring" or "regex"`},
		{"named pattern without name", func(p *ProcBlocking) { p.Pattern = []namedPattern{{Regex: "x"}} }, `invalid 'pattern.name' "": every [[inputs.procblocking.pattern]] needs a name`},
		{"named pattern without regex or substring", func(p *ProcBlocking) { p.Pattern = []namedPattern{{Name: "x"}} }, `invalid 'pattern' "x": give it either a non-empty regex or a non-empty substring`},
		{"named pattern with both", func(p *ProcBlocking) { p.Pattern = []namedPattern{{Name: "x", Regex: "a", Substring: "b"}} }, `invalid 'pattern' "x": give it either`},
		{"named pattern bad regex", func(p *ProcBlocking) { p.Pattern = []namedPattern{{Name: "x", Regex: "a["}} }, `invalid 'pattern.regex' "a[": error parsing regexp`},
		{"regex_max_bytes too small", func(p *ProcBlocking) { p.RegexMaxBytes = 255 }, `invalid 'regex_max_bytes' "255": want at least 256 bytes`},
		{"regex_max_bytes zero", func(p *ProcBlocking) { p.RegexMaxBytes = 0 }, `invalid 'regex_max_bytes' "0": want at least 256 bytes`},
		{"negative min_age", func(p *ProcBlocking) { p.MinAge = config.Duration(-time.Second) }, `invalid 'min_age' "-1s": must not be negative`},
		{"cmdline_max_length too small", func(p *ProcBlocking) { p.CmdlineMaxLength = 15 }, `invalid 'cmdline_max_length' "15": want at least 16`},
		{"cmdline_max_length zero", func(p *ProcBlocking) { p.CmdlineMaxLength = 0 }, `invalid 'cmdline_max_length' "0": want at least 16`},
		{"empty redact regex", func(p *ProcBlocking) { p.Redact = []string{""} }, `invalid 'redact' "": empty regex`},
		{"bad redact regex", func(p *ProcBlocking) { p.Redact = []string{"a["} }, `invalid 'redact' "a[": error parsing regexp`},
		{"proc_root missing", func(p *ProcBlocking) { p.ProcRoot = filepath.Join(root, "nope") }, `invalid 'proc_root' "` + filepath.Join(root, "nope") + `": not a proc filesystem`},
		{"proc_root without btime", func(p *ProcBlocking) { p.ProcRoot = notProc }, `invalid 'proc_root' "` + notProc + `": not a proc filesystem`},
		{"proc_root a file", func(p *ProcBlocking) { p.ProcRoot = filepath.Join(root, "stat") }, `invalid 'proc_root' "` + filepath.Join(root, "stat") + `": not a proc filesystem`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlugin(t)
			p.Patterns = []string{"pytest"}
			p.ProcRoot = root
			tt.modify(p)
			require.ErrorContains(t, p.Init(), tt.want)
		})
	}
}

func TestHostProcEnv(t *testing.T) {
	root := basicTree(t)
	t.Setenv("HOST_PROC", root)
	p := newPlugin(t)
	require.NoError(t, p.Init())
	require.Equal(t, root, p.state.root)

	notProc := t.TempDir()
	t.Setenv("HOST_PROC", notProc)
	p = newPlugin(t)
	require.ErrorContains(t, p.Init(), `invalid 'proc_root' "`+notProc+`": not a proc filesystem (the value comes from $HOST_PROC`)
}

func TestSampleConfig(t *testing.T) {
	load := func(conf string) *ProcBlocking {
		c := config.NewConfig()
		require.NoError(t, c.LoadConfigData([]byte(conf), "sample.conf"))
		require.Len(t, c.Inputs, 1)
		p, ok := c.Inputs[0].Input.(*ProcBlocking)
		require.True(t, ok)
		return p
	}
	p := load(sampleConfig)
	require.Nil(t, p.Patterns)
	require.Nil(t, p.Pattern, "no pattern configured: Init watches the default")
	require.Equal(t, "substring", p.PatternType)
	require.Equal(t, 512, p.CmdlineMaxLength)
	require.Equal(t, config.Size(4096), p.RegexMaxBytes)

	// Uncommented, the sample sets every option to the factory's default,
	// and adds its example of a named pattern.
	uncommented := regexp.MustCompile(`(?m)^  # `).ReplaceAllString(sampleConfig, "  ")
	p = load(uncommented)
	require.Equal(t, []string{"pytest"}, p.Patterns)
	require.Equal(t, []namedPattern{{Name: "celery", Substring: "celery worker"}}, p.Pattern)
	require.Equal(t, "substring", p.PatternType)
	require.Empty(t, p.ProcRoot)
	require.Zero(t, p.MinAge)
	require.Equal(t, 512, p.CmdlineMaxLength)
	require.Equal(t, config.Size(4096), p.RegexMaxBytes)
	require.Empty(t, p.Redact)

	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	require.Contains(t, string(readme), sampleConfig, "README.md must contain sample.conf word for word")
	require.Contains(t, string(readme), "    regex = '"+pytestRegex+"'\n", "the README's named-pattern example is the default")
}

// Plain patterns replace the default named pattern; named ones replace it
// too; both together are tried plain first.
func TestPatternsFromTOML(t *testing.T) {
	root := basicTree(t)
	tests := []struct {
		name string
		toml string
		want []string // the pattern tags, in order
	}{
		{"nothing configured", ``, []string{"pytest"}},
		{"plain", `patterns = ["pytest", "celery"]`, []string{"pytest", "celery"}},
		{"named", `
[[inputs.procblocking.pattern]]
  name = "tests"
  substring = "pytest"
[[inputs.procblocking.pattern]]
  name = "workers"
  regex = '^celery '
`, []string{"tests", "workers"}},
		{"both", `
patterns = ["tests/x.py"]
[[inputs.procblocking.pattern]]
  name = "pytest"
  substring = "pytest"
`, []string{"tests/x.py", "pytest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.NewConfig()
			conf := "[[inputs.procblocking]]\n  proc_root = \"" + root + "\"\n" + tt.toml + "\n"
			require.NoError(t, c.LoadConfigData([]byte(conf), "test.conf"))
			require.Len(t, c.Inputs, 1)
			p := c.Inputs[0].Input.(*ProcBlocking)
			p.Log = testutil.Logger{}
			require.NoError(t, p.Init())
			require.Equal(t, tt.want, p.state.scanner.matcher.names)
		})
	}
}

func TestLongAndInvalidCmdlines(t *testing.T) {
	tests := []struct {
		name    string
		cmdline string
		matched bool
		want    string // prefix of the reported cmdline
	}{
		{
			// The pattern sits after 100 kB: the read buffer must grow.
			name:    "100 kB",
			cmdline: "python3\x00" + strings.Repeat("a", 100_000) + "\x00pytest\x00",
			matched: true,
			want:    "python3 aaaa",
		},
		{
			name:    "non-UTF-8",
			cmdline: "py\xff\xfe\x00-m\x00pytest\x00--token=\xc3\x00",
			matched: true,
			want:    "py\uFFFD -m pytest --token=***", // a run of invalid bytes becomes one U+FFFD
		},
		{
			// Only the first MiB is read and matched.
			name:    "pattern past 1 MiB",
			cmdline: "python3\x00" + strings.Repeat("b", 1<<20) + "\x00pytest\x00",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := basicTree(t)
			require.NoError(t, os.WriteFile(filepath.Join(root, "100", "cmdline"), []byte(tt.cmdline), 0o600))
			p := newFixturePlugin(t, root, nil)
			acc := gather(t, p, root)
			require.Empty(t, acc.Errors)
			var got telegraf.Metric
			for _, m := range acc.GetTelegrafMetrics() {
				if m.Name() == "procblocking" && m.Tags()["pid"] == "100" {
					got = m
				}
			}
			require.Equal(t, tt.matched, got != nil)
			if got == nil {
				return
			}
			cmdline := got.Fields()["cmdline"].(string)
			require.True(t, utf8.ValidString(cmdline))
			require.LessOrEqual(t, utf8.RuneCountInString(cmdline), 512)
			require.True(t, strings.HasPrefix(cmdline, tt.want), cmdline)
		})
	}
}

// The matched process and its parent exit after the stat was read and a new
// process takes the PID: the new one was never matched, so nothing is
// reported for that PID.
func TestPIDReusedMidScan(t *testing.T) {
	root := basicTree(t)
	p := newFixturePlugin(t, root, nil)
	p.state.scanner.hook = func(step string, pid int64) {
		if step == stepStat && pid == 600 {
			require.NoError(t, os.Remove(filepath.Join(root, "610", "status")))
			writeStat(t, root, 600, 1, 0, 360100)
		}
	}
	acc := gather(t, p, root)
	require.Empty(t, acc.Errors)
	var pids []string
	for _, m := range acc.GetTelegrafMetrics() {
		if m.Name() == "procblocking" {
			pids = append(pids, m.Tags()["pid"])
		}
	}
	require.Equal(t, []string{"100", "300"}, pids)
	require.Equal(t, int64(1), scanOf(t, acc).Fields()["errors"])
}
