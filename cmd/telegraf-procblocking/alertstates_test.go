package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"
)

// Two alertstate tables keeping their state in one file, here both on the
// default file, one in the main config and one in the config directory:
// the binary refuses to start, naming both tables, before anything runs.
func TestTwoAlertStatesSharingAStateFileAreRefused(t *testing.T) {
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	main := filepath.Join(dir, "telegraf.conf")
	require.NoError(t, os.WriteFile(main, []byte("[agent]\n  interval = \"1s\"\n\n"+
		"[[inputs.procblocking]]\n  patterns = [\"no-process-has-this-marker-0x22\"]\n\n"+
		"[[processors.alertstate]]\n  threshold = \"1h\"\n\n[[outputs.discard]]\n"), 0o600))
	confDir := filepath.Join(dir, "telegraf.d")
	require.NoError(t, os.Mkdir(confDir, 0o700))
	dropIn := filepath.Join(confDir, "watchdog.conf")
	require.NoError(t, os.WriteFile(dropIn, []byte("# the watchdog\n\n[[processors.alertstate]]\n  threshold = \"2h\"\n"), 0o600))

	for _, mode := range [][]string{nil, {"--test"}, {"--once"}} {
		cmd := exec.Command(binPath, append([]string{"--config", main, "--config-directory", confDir}, mode...)...)
		cmd.Env = append(os.Environ(), stateDirEnv+"="+stateDir)
		out, err := cmd.CombinedOutput()
		require.Equal(t, 1, exitCode(err), "%v: %s", mode, out)
		require.Contains(t, string(out), fmt.Sprintf(
			"[[processors.alertstate]] at %s:7 and [[processors.alertstate]] at %s:3 keep their alert state in the same file %q: give each its own 'state_file'",
			main, dropIn, filepath.Join(stateDir, "alertstate.json")), "%v", mode)
		require.NoDirExists(t, stateDir, "%v: nothing ran", mode)
	}

	// Each with a file of its own, or one in memory: both run.
	require.NoError(t, os.WriteFile(dropIn, []byte("[[processors.alertstate]]\n  state_file = \"\"\n"), 0o600))
	cmd := exec.Command(binPath, "--config", main, "--config-directory", confDir, "--test")
	cmd.Env = append(os.Environ(), stateDirEnv+"="+stateDir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// Telegraf makes a second instance of every processor for the aggregators'
// output unless skip_processors_after_aggregators is true: alertstate's is
// left out, with a notice, so that it neither decides on aggregates nor
// shares the first one's state file.
func TestAlertStateRunsBeforeTheAggregatorsOnly(t *testing.T) {
	for _, skip := range []string{"", "skip_processors_after_aggregators = false", "skip_processors_after_aggregators = true"} {
		t.Run(skip, func(t *testing.T) {
			c := config.NewConfig()
			require.NoError(t, c.LoadConfigData([]byte(fmt.Sprintf(`[agent]
  %s
[[inputs.procblocking]]
[[processors.alertstate]]
  state_file = %q
[[aggregators.minmax]]
[[outputs.discard]]
`, skip, filepath.Join(t.TempDir(), "alertstate.json"))), "aggregators.conf"))
			require.Len(t, c.AggProcessors, 1)
			notices, err := placeAlertStates(c)
			require.NoError(t, err)
			require.Empty(t, c.AggProcessors)
			require.Len(t, alertStates(c), 1, "the one before the aggregators stays")
			if skip == "skip_processors_after_aggregators = true" {
				require.Empty(t, notices)
			} else {
				require.Equal(t, []string{"I! processors.alertstate runs before the aggregators only: its input is the processes and scans themselves, not aggregates of them"}, notices)
			}
		})
	}
}
