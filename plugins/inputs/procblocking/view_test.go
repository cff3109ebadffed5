//go:build linux

package procblocking

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

func TestJudgeView(t *testing.T) {
	host := viewFacts{nsLink: initPIDNamespace, nsLevels: 1, mount: procMount{fsType: "proc", gid: -1}, uid: 65532, groups: []int64{65532}}
	with := func(modify func(*viewFacts)) viewFacts {
		f := host
		f.groups = append([]int64(nil), host.groups...)
		modify(&f)
		return f
	}
	tests := []struct {
		name     string
		facts    viewFacts
		hostView bool
		warnings []string // one substring per expected warning
	}{
		{name: "host, pid: host", facts: host, hostView: true},
		{
			name:     "own PID namespace (no pid: host)",
			facts:    with(func(f *viewFacts) { f.nsLink = "pid:[4026532500]" }),
			warnings: []string{"it is the agent's own PID namespace (pid:[4026532500]), not the host's"},
		},
		{
			name:     "HOST_PROC from a container",
			facts:    with(func(f *viewFacts) { f.nsLink, f.nsLevels, f.kthreadd = "pid:[4026532500]", 2, true }),
			hostView: true,
		},
		{
			name:     "HOST_PROC of an outer container, not the host",
			facts:    with(func(f *viewFacts) { f.nsLink, f.nsLevels = "pid:[4026532500]", 2 }),
			warnings: []string{"a PID namespace 1 level(s) above the agent's, but not the host's"},
		},
		{
			name:     "no self: another namespace's /proc",
			facts:    with(func(f *viewFacts) { f.selfErr, f.nsLink, f.nsLevels = os.ErrNotExist, "", 0 }),
			warnings: []string{"the agent's own process is not in it"},
		},
		{
			name:     "hidepid=2",
			facts:    with(func(f *viewFacts) { f.mount.hidepid = "invisible" }),
			warnings: []string{"mounted with hidepid=invisible: the agent (uid 65532) sees only its own user's processes"},
		},
		{
			name:     "hidepid=1, old kernel",
			facts:    with(func(f *viewFacts) { f.mount.hidepid = "1" }),
			warnings: []string{"hidepid=1"},
		},
		{
			name:     "hidepid with gid= of the agent's group",
			facts:    with(func(f *viewFacts) { f.mount.hidepid, f.mount.gid = "invisible", 65532 }),
			hostView: true,
		},
		{
			name:     "hidepid with gid= of another group",
			facts:    with(func(f *viewFacts) { f.mount.hidepid, f.mount.gid = "invisible", 4242 }),
			warnings: []string{"gid="},
		},
		{
			name:     "hidepid=ptraceable ignores gid=",
			facts:    with(func(f *viewFacts) { f.mount.hidepid, f.mount.gid = "ptraceable", 65532 }),
			warnings: []string{"hidepid=ptraceable"},
		},
		{
			name:     "hidepid, agent may ptrace everything",
			facts:    with(func(f *viewFacts) { f.mount.hidepid, f.canPtrace = "invisible", true }),
			hostView: true,
		},
		{
			name:     "hidepid=off",
			facts:    with(func(f *viewFacts) { f.mount.hidepid = "off" }),
			hostView: true,
		},
		{
			name:     "mount table unreadable, PID 1 unreadable",
			facts:    with(func(f *viewFacts) { f.mountErr, f.pid1Err = errors.New("no mountinfo"), os.ErrPermission }),
			warnings: []string{"Cannot read the status of PID 1"},
		},
		{
			name: "both",
			facts: with(func(f *viewFacts) {
				f.nsLink, f.mount.hidepid = "pid:[4026532500]", "2"
			}),
			warnings: []string{"`pid: host`", "hidepid=2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hostView, warnings := judgeView("/host/proc", tt.facts)
			require.Equal(t, tt.hostView, hostView)
			require.Len(t, warnings, len(tt.warnings), "%q", warnings)
			for i, w := range tt.warnings {
				require.Contains(t, warnings[i], w)
				require.Contains(t, warnings[i], `"/host/proc"`)
			}
			for _, w := range warnings {
				// Each warning names the fix.
				require.Regexp(t, "HOST_PROC|gid=", w)
			}
		})
	}
}

// Fake trees: the facts come from the files a real /proc has.
func TestHostViewFromFixture(t *testing.T) {
	tests := []struct {
		name     string
		modify   func(t *testing.T, root string)
		hostView bool
		warning  string
	}{
		{name: "self in the initial namespace", modify: func(*testing.T, string) {}, hostView: true},
		{
			name: "self in another namespace, kthreadd seen (HOST_PROC)",
			modify: func(t *testing.T, root string) {
				require.NoError(t, os.Remove(filepath.Join(root, "700", "ns", "pid")))
				require.NoError(t, os.Symlink("pid:[4026532500]", filepath.Join(root, "700", "ns", "pid")))
				require.NoError(t, os.WriteFile(filepath.Join(root, "700", "status"), []byte("NSpid:\t700\t1\n"), 0o600))
				require.NoError(t, os.MkdirAll(filepath.Join(root, "2"), 0o700))
				require.NoError(t, os.WriteFile(filepath.Join(root, "2", "stat"),
					[]byte("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 1 0 0 20 0 1 0 1 0 0 18446744073709551615 0 0"), 0o600))
			},
			hostView: true,
		},
		{
			name: "self in another namespace, PID 2 a user process",
			modify: func(t *testing.T, root string) {
				require.NoError(t, os.Remove(filepath.Join(root, "700", "ns", "pid")))
				require.NoError(t, os.Symlink("pid:[4026532500]", filepath.Join(root, "700", "ns", "pid")))
				require.NoError(t, os.MkdirAll(filepath.Join(root, "2"), 0o700))
				require.NoError(t, os.WriteFile(filepath.Join(root, "2", "stat"),
					[]byte("2 (kthreadd) S 0 0 0 0 -1 4194560 0 0 0 0 0 1 0 0 20 0 1 0 1 0 0 18446744073709551615 0 0"), 0o600))
			},
			warning: "it is the agent's own PID namespace",
		},
		{
			name:    "no self",
			modify:  func(t *testing.T, root string) { require.NoError(t, os.Remove(filepath.Join(root, "self"))) },
			warning: "the agent's own process is not in it",
		},
		{
			name:    "PID 1 hidden",
			modify:  func(t *testing.T, root string) { require.NoError(t, os.Remove(filepath.Join(root, "1", "status"))) },
			warning: "Cannot read the status of PID 1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := basicTree(t)
			tt.modify(t, root)
			logger := &testutil.CaptureLogger{Name: "inputs.procblocking"}
			p := newFixturePlugin(t, root, func(p *ProcBlocking) { p.Log = logger })
			acc := gather(t, p, root)
			require.Equal(t, tt.hostView, scanOf(t, acc).Fields()["host_view"])
			if tt.warning == "" {
				require.Empty(t, logger.Warnings())
				return
			}
			require.Len(t, logger.Warnings(), 1)
			require.Contains(t, logger.Warnings()[0], tt.warning)
		})
	}
}
