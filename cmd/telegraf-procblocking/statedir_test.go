package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/proctest"
)

func TestDefaultStateDir(t *testing.T) {
	tests := []struct {
		name  string
		euid  int
		xdg   string
		home  string
		want  string
		under string // the temp directory's own: os.TempDir()
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

func TestSetStateDirEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", filepath.Join(dir, "xdg"))
	t.Setenv("HOME", filepath.Join(dir, "home"))

	t.Setenv(stateDirEnv, "")
	require.NoError(t, setStateDirEnv())
	require.Equal(t, defaultStateDir(os.Geteuid(), filepath.Join(dir, "xdg"), filepath.Join(dir, "home")), os.Getenv(stateDirEnv))

	t.Setenv(stateDirEnv, filepath.Join(dir, "mine"))
	require.NoError(t, setStateDirEnv())
	require.Equal(t, filepath.Join(dir, "mine"), os.Getenv(stateDirEnv))
}

// The embedded default keeps its alert state in $PROCBLOCKING_STATE_DIR and
// says where on start-up.
func TestEmbeddedDefaultUsesStateDir(t *testing.T) {
	dir := t.TempDir()
	p := startBinary(t, []string{stateDirEnv + "=" + dir})
	proctest.WaitFor(t, 30*time.Second, "the agent to run", func() bool {
		return strings.Contains(p.Stderr.String(), "Loaded outputs: file")
	})
	require.Contains(t, p.Stderr.String(), fmt.Sprintf("The alert state is kept in %q", filepath.Join(dir, "alertstate.json")))
	require.NoError(t, p.Cmd.Process.Signal(os.Interrupt))
	require.NoError(t, p.Wait(t, 30*time.Second), p.Stderr.String())
}
