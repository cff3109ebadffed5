package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

// A stop request is never lost, whatever came before it: 20 SIGHUPs then a
// SIGTERM, 20 times over.
func TestSigtermAfterSighupBurstStops(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "burst.conf")
	require.NoError(t, os.WriteFile(conf, []byte("[agent]\n  interval = \"1s\"\n  omit_hostname = true\n"+
		"[[inputs.procblocking]]\n  patterns = [\"no-process-has-this-marker-0x14\"]\n[[outputs.discard]]\n"), 0o600))
	for trial := range 20 {
		p := startBinary(t, nil, "--config", conf)
		proctest.WaitFor(t, 30*time.Second, "the agent to run", func() bool {
			return strings.Contains(p.Stderr.String(), "Loaded outputs: discard")
		})
		for range 20 {
			require.NoError(t, syscall.Kill(p.PID(), syscall.SIGHUP))
		}
		require.NoError(t, syscall.Kill(p.PID(), syscall.SIGTERM))
		require.NoError(t, p.Wait(t, 60*time.Second), "trial %d:\n%s", trial, p.Stderr.String())
		require.Contains(t, p.Stderr.String(), "Stopping on terminated", "trial %d", trial)
	}
}
