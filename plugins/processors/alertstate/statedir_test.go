package alertstate

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDefaultStateDir(t *testing.T) {
	tests := []struct {
		name string
		euid int
		xdg  string
		home string
		want string
	}{
		{name: "root", euid: 0, xdg: "/x/state", home: "/root", want: "/var/lib/procblocking"},
		{name: "XDG_STATE_HOME", euid: 1000, xdg: "/x/state", home: "/home/u", want: "/x/state/procblocking"},
		{name: "relative XDG_STATE_HOME is ignored", euid: 1000, xdg: "state", home: "/home/u", want: "/home/u/.local/state/procblocking"},
		{name: "home", euid: 1000, home: "/home/u", want: "/home/u/.local/state/procblocking"},
		{name: "no home", euid: 1000, want: filepath.Join(os.TempDir(), "procblocking-1000")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, defaultStateDir(tt.euid, tt.xdg, tt.home))
		})
	}
}

// Without 'state_file' the state is kept in $PROCBLOCKING_STATE_DIR, else in
// the default state directory; 'state_file = ""' keeps it in memory.
func TestDefaultStateFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", filepath.Join(dir, "xdg"))
	t.Setenv("HOME", filepath.Join(dir, "home"))
	t.Setenv(stateDirEnv, "")
	want := filepath.Join(defaultStateDir(os.Geteuid(), filepath.Join(dir, "xdg"), filepath.Join(dir, "home")), "alertstate.json")
	require.Equal(t, want, factory().StateFile)

	t.Setenv(stateDirEnv, filepath.Join(dir, "mine"))
	p := plugin(t, func(p *AlertState) { p.StateFile = factory().StateFile })
	require.Equal(t, filepath.Join(dir, "mine", "alertstate.json"), p.StateFile)
	p.Apply(procMetric("h1", 7, t0.Add(-2*time.Hour), t0), scanMetric("h1", t0, true, 1))
	require.Len(t, readState(t, p.StateFile).Sources[0].Jobs, 1)
}
