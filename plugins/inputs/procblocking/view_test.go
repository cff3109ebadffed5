//go:build linux

package procblocking

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

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
