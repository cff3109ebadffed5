package statedir

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDefaultDir(t *testing.T) {
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
			require.Equal(t, tt.want, defaultDir(tt.euid, tt.xdg, tt.home))
		})
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", filepath.Join(dir, "xdg"))
	t.Setenv("HOME", filepath.Join(dir, "home"))
	t.Setenv(Env, "")
	want := filepath.Join(defaultDir(os.Geteuid(), filepath.Join(dir, "xdg"), filepath.Join(dir, "home")), "x.json")
	require.Equal(t, want, File("x.json"))

	t.Setenv(Env, filepath.Join(dir, "mine"))
	require.Equal(t, filepath.Join(dir, "mine", "x.json"), File("x.json"))
}
