//go:build linux

package hostview

import (
	"errors"
	"os"
	"testing"

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
