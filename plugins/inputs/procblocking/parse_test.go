package procblocking

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		line string
		want procStat
	}{
		{
			name: "plain",
			line: "42 (python3) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 100 123456789 2560 18446744073709551615",
			want: procStat{comm: "python3", state: "S", ppid: 1, flags: 4194560, utime: 250, stime: 50, threads: 4, startTime: 100, rssPages: 2560},
		},
		{
			name: "comm with spaces and parentheses",
			line: "7 (py) (test x) R 3 0 0 0 0 0 0 0 0 0 1 2 0 0 0 0 9 0 77 0 5\n",
			want: procStat{comm: "py) (test x", state: "R", ppid: 3, utime: 1, stime: 2, threads: 9, startTime: 77, rssPages: 5},
		},
		{
			name: "comm made of parentheses",
			line: "8 ()) () Z 3 0 0 0 0 0 0 0 0 0 1 2 0 0 0 0 1 0 77 0 0",
			want: procStat{comm: ")) (", state: "Z", ppid: 3, utime: 1, stime: 2, threads: 1, startTime: 77},
		},
		{
			name: "kernel thread",
			line: "400 (kworker/0:1-events) I 2 0 0 0 -1 69238880 0 0 0 0 0 5 0 0 20 0 1 0 10 0 0 18446744073709551615 0 0",
			want: procStat{comm: "kworker/0:1-events", state: "I", ppid: 2, flags: 69238880, stime: 5, threads: 1, startTime: 10},
		},
		{
			name: "non-UTF-8 comm",
			line: "9 (a\xffb) S 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 0 1 0 1",
			want: procStat{comm: "a\uFFFDb", state: "S", ppid: 1, threads: 1, startTime: 1, rssPages: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.line))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseStatErrors(t *testing.T) {
	for name, line := range map[string]string{
		"empty":         "",
		"no comm":       "42 python3 S 1 0 0 0",
		"unclosed comm": "42 (python3 S 1 0 0 0 0 0 0 0 0 0 1 1 0 0 0 0 1 0 1 0 1",
		"truncated":     "42 (python3) S 1 0 0 0 0 0 0 0 0 0 250 50 0 0 0 0 4 0 100 0",
		"bad ppid":      "42 (python3) S x 0 0 0 0 0 0 0 0 0 250 50 0 0 0 0 4 0 100 0 1",
		"bad utime":     "42 (python3) S 1 0 0 0 0 0 0 0 0 0 -5 50 0 0 0 0 4 0 100 0 1",
		"bad start":     "42 (python3) S 1 0 0 0 0 0 0 0 0 0 5 50 0 0 0 0 4 0 1e3 0 1",
		"bad rss":       "42 (python3) S 1 0 0 0 0 0 0 0 0 0 5 50 0 0 0 0 4 0 100 0 many",
		"bad threads":   "42 (python3) S 1 0 0 0 0 0 0 0 0 0 5 50 0 0 0 0 four 0 100 0 1",
		"bad flags":     "42 (python3) S 1 0 0 0 0 x 0 0 0 0 5 50 0 0 0 0 4 0 100 0 1",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseStat([]byte(line))
			require.Error(t, err)
		})
	}
}

func TestParseNSpid(t *testing.T) {
	tests := []struct {
		name     string
		status   string
		want     []int64
		nsInit   bool
		hasError bool
	}{
		{name: "host init", status: "Name:\tsystemd\nNSpid:\t1\nNSpgid:\t1\n", want: []int64{1}, nsInit: true},
		{name: "host process", status: "Name:\tbash\nPPid:\t1\nNSpid:\t250\n", want: []int64{250}},
		{name: "container init", status: "Name:\ttini\nNSpid:\t610\t1\n", want: []int64{610, 1}, nsInit: true},
		{name: "container process", status: "NSpid:\t611\t2\n", want: []int64{611, 2}},
		{name: "nested init", status: "NSpid:\t900\t40\t1", want: []int64{900, 40, 1}, nsInit: true},
		{name: "no NSpid (old kernel)", status: "Name:\tx\nPid:\t5\n", hasError: true},
		{name: "empty NSpid", status: "NSpid:\n", hasError: true},
		{name: "garbage NSpid", status: "NSpid:\t1x\n", hasError: true},
		{name: "empty", status: "", hasError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNSpid([]byte(tt.status))
			init, initErr := isNamespaceInit([]byte(tt.status))
			if tt.hasError {
				require.Error(t, err)
				require.Error(t, initErr)
				return
			}
			require.NoError(t, err)
			require.NoError(t, initErr)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.nsInit, init)
		})
	}
}

func TestParseContainerID(t *testing.T) {
	const id = "3f4e0b2c1d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c"
	tests := []struct {
		name   string
		cgroup string
		want   string
	}{
		{"docker v1", "12:pids:/docker/" + id + "\n11:memory:/docker/" + id + "\n0::/\n", id},
		{"docker v1 systemd driver", "1:name=systemd:/system.slice/docker-" + id + ".scope\n", id},
		{"docker v2", "0::/system.slice/docker-" + id + ".scope\n", id},
		{"containerd v2", "0::/system.slice/cri-containerd-" + id + ".scope", id},
		{"cri-o v2", "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1a2b_3c4d.slice/crio-" + id + ".scope\n", id},
		{"podman", "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope/container\n", id},
		{"kubepods v1", "4:cpu,cpuacct:/kubepods/burstable/pod1a2b3c4d-0000-1111-2222-333344445555/" + id + "\n", id},
		{"kubepods v2 containerd", "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12ab_34cd.slice/cri-containerd-" + id + ".scope\n", id},
		{"docker in docker: innermost", "0::/docker/" + id + "/docker/" + id[32:] + id[:32] + "\n", id[32:] + id[:32]},
		{"host process", "0::/user.slice/user-0.slice/session-1.scope\n", ""},
		{"init scope", "0::/init.scope\n", ""},
		{"root", "0::/\n", ""},
		{"hex id outside a runtime", "0::/system.slice/" + id + ".scope\n", ""},
		{"truncated id", "0::/docker/3f4e0b2c", ""},
		{"upper-case is no id", "0::/docker/3F4E0B2C1D9A8B7C6D5E4F3A2B1C0D9E8F7A6B5C4D3E2F1A0B9C8D7E6F5A4B3C\n", ""},
		{"no path", "12:pids\n", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, parseContainerID([]byte(tt.cgroup)))
		})
	}
}

func TestJoinCmdline(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"args", "python3\x00-m\x00pytest\x00tests/\x00", "python3 -m pytest tests/"},
		{"no trailing NUL (setproctitle)", "pytest: worker gw0", "pytest: worker gw0"},
		{"empty (kernel thread, zombie)", "", ""},
		{"only NULs", "\x00\x00", ""},
		{"empty argument", "a\x00\x00b\x00", "a  b"},
		{"non-UTF-8", "py\xfftest\x00\xc3\x28\x00", "py\uFFFDtest \uFFFD("},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, joinCmdline([]byte(tt.raw)))
			// The in-place join the matcher sees differs only in validity.
			require.Equal(t, tt.want, joinCmdline(joinInPlace(nil, []byte(tt.raw))))
		})
	}
}

func TestParsePID(t *testing.T) {
	for name, want := range map[string]int64{"1": 1, "4194304": 4194304, "0": 0, "self": 0, "12a": 0, "": 0, "99999999999": 0} {
		got, ok := parsePID([]byte(name))
		require.Equal(t, want, got, name)
		require.Equal(t, want != 0, ok, name)
	}
}

func TestReadBtime(t *testing.T) {
	btime, err := readBtime(filepath.Join(sharedTestdata, "proc_basic"))
	require.NoError(t, err)
	require.Equal(t, uint64(1700000000), btime)

	for name, content := range map[string]string{
		"no btime":      "cpu  1 2 3 4 0 0 0 0 0 0\nintr 0\n",
		"garbage btime": "btime soon\n",
		"zero btime":    "btime 0\n",
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(root, "stat"), []byte(content), 0o600))
			_, err := readBtime(root)
			require.Error(t, err)
		})
	}
	_, err = readBtime(t.TempDir())
	require.Error(t, err, "no stat at all")
}

func TestParsersOnFixtureFiles(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(sharedTestdata, "proc_basic", name))
		require.NoError(t, err)
		return b
	}
	st, err := parseStat(read("300/stat"))
	require.NoError(t, err)
	require.Equal(t, "py) (test", st.comm)
	require.Equal(t, int64(250), st.ppid)

	zombie, err := parseStat(read("500/stat"))
	require.NoError(t, err)
	require.Equal(t, "Z", zombie.state)
	require.Empty(t, joinCmdline(read("500/cmdline")))

	init, err := isNamespaceInit(read("610/status"))
	require.NoError(t, err)
	require.True(t, init, "docker-init is PID 1 of its namespace")
	init, err = isNamespaceInit(read("250/status"))
	require.NoError(t, err)
	require.False(t, init)

	require.Equal(t, "3f4e0b2c1d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c", parseContainerID(read("100/cgroup")))
	require.Equal(t, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", parseContainerID(read("300/cgroup")))
	require.Empty(t, parseContainerID(read("250/cgroup")))
}

func TestParentCache(t *testing.T) {
	reads := map[int64]int{}
	statuses := map[int64]string{1: "NSpid:\t1\n", 610: "NSpid:\t610\t1\n", 250: "NSpid:\t250\n"}
	read := func(pid int64) ([]byte, error) {
		reads[pid]++
		s, ok := statuses[pid]
		if !ok {
			return nil, os.ErrNotExist
		}
		return []byte(s), nil
	}
	c := parentCache{}
	for range 3 {
		for ppid, want := range map[int64]orphanState{1: orphanYes, 610: orphanYes, 250: orphanNo, 0: orphanNo} {
			got, err := c.isOrphan(ppid, read)
			require.NoError(t, err)
			require.Equal(t, want, got, "ppid %d", ppid)
		}
		got, err := c.isOrphan(999, read)
		require.ErrorIs(t, err, os.ErrNotExist)
		require.Equal(t, orphanUnknown, got)
	}
	// One read per parent per scan; a failed one is tried again; PID 0 never.
	require.Equal(t, map[int64]int{1: 1, 610: 1, 250: 1, 999: 3}, reads)
}
