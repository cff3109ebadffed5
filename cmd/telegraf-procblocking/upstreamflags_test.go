package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

// Every upstream flag the binary does not implement stops it before anything
// runs, with exit code 2 and a message naming the flag and what to do
// instead, however the flag is written.
func TestUnsupportedUpstreamFlagsAreRefused(t *testing.T) {
	for name := range unsupportedFlags {
		for _, args := range [][]string{{"--" + name, "x"}, {"-" + name + "=x"}, {"--config", "telegraf.conf", "--" + name}} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				out, err := exec.Command(binPath, args...).CombinedOutput()
				require.Equal(t, 2, exitCode(err), "%s", out)
				require.Contains(t, string(out), fmt.Sprintf("--%s is upstream Telegraf's and not supported by telegraf-procblocking: %s", name, unsupportedFlags[name]))
				require.NotContains(t, string(out), "Starting telegraf-procblocking")
			})
		}
	}
	for name, why := range unsupportedCommands {
		out, err := exec.Command(binPath, name).CombinedOutput()
		require.Equal(t, 2, exitCode(err), "%s", out)
		require.Contains(t, string(out), fmt.Sprintf("upstream Telegraf's command %q is not supported by telegraf-procblocking: %s", name, why))
	}
	// A value that looks like a flag after "--" is no flag.
	require.NoError(t, refuseUnsupported([]string{"--", "--watch-config"}))
}

func exitCode(err error) int {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

// scanConfig writes a config whose input matches nothing (so each gather
// gives one scan metric) with the given outputs.
func scanConfig(t *testing.T, outputs string) string {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "telegraf.conf")
	require.NoError(t, os.WriteFile(conf, []byte("[agent]\n  interval = \"1s\"\n  flush_interval = \"1s\"\n  omit_hostname = true\n"+
		"[[inputs.procblocking]]\n  patterns = [\"no-process-has-this-marker-0x21\"]\n"+outputs), 0o600))
	return conf
}

// --input-filter and --output-filter select plugins by name, ':' between
// names, as upstream's do.
func TestInputAndOutputFilters(t *testing.T) {
	metrics := filepath.Join(t.TempDir(), "metrics.out")
	conf := scanConfig(t, fmt.Sprintf("[[outputs.file]]\n  files = [%q]\n  data_format = \"influx\"\n[[outputs.discard]]\n", metrics))

	out, err := exec.Command(binPath, "--config", conf, "--once", "--output-filter", "discard").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "Loaded outputs: discard\n")
	require.NoFileExists(t, metrics, "outputs.file was filtered out")

	out, err = exec.Command(binPath, "--config", conf, "--once", "--output-filter", "file:discard", "--input-filter", "procblocking").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "Loaded outputs: discard file\n")
	data, err := os.ReadFile(metrics)
	require.NoError(t, err)
	require.Contains(t, string(data), "procblocking_scan ")

	out, err = exec.Command(binPath, "--config", conf, "--test", "--input-filter", "cpu").CombinedOutput()
	require.Error(t, err, "%s", out)
	require.Contains(t, string(out), "no inputs found")
}

// --once gathers once, writes to the outputs and exits, keeping the alert
// state: it is a real run, so the next --once does not alert again.
func TestOnceIsARealRun(t *testing.T) {
	marker := fmt.Sprintf("pytest-once-%d", os.Getpid())
	child := startProcess(t, "python3 -m pytest "+marker)
	stateFile := filepath.Join(t.TempDir(), "alertstate.json")
	conf := filepath.Join(t.TempDir(), "once.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf("[agent]\n  omit_hostname = true\n"+
		"[[inputs.procblocking]]\n  patterns = [%q]\n"+
		"[[processors.alertstate]]\n  threshold = \"1ms\"\n  cooldown = \"1h\"\n  state_file = %q\n"+
		"[[outputs.file]]\n  files = [\"stdout\"]\n  data_format = \"influx\"\n  namepass = [\"procblocking_alert\"]\n",
		marker, stateFile)), 0o600))

	out, err := exec.Command(binPath, "--config", conf, "--once").Output()
	require.NoError(t, err)
	require.Contains(t, string(out), fmt.Sprintf("procblocking_alert,event=alert,pattern=%s,pid=%d ", marker, child))
	require.FileExists(t, stateFile)
	out, err = exec.Command(binPath, "--config", conf, "--once").Output()
	require.NoError(t, err)
	require.Empty(t, string(out), "the second --once alerted again")
}

// startProcess starts a process whose command line is argv (a sleep under
// that name) and returns its PID once /proc shows the name.
func startProcess(t *testing.T, argv string) int {
	t.Helper()
	p := proctest.Start(t, []string{"ARGV0=" + argv}, "bash", "-c", `exec -a "$ARGV0" sleep 300`)
	proctest.WaitFor(t, 10*time.Second, "the process's argv", func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.PID()))
		return err == nil && bytes.HasPrefix(b, []byte(argv+"\x00"))
	})
	return p.PID()
}

// --pidfile holds the process ID while the agent runs, across a reload, and
// is removed when it stops; a test run writes none, as upstream.
func TestPIDFile(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "telegraf.pid")
	conf := scanConfig(t, "[[outputs.discard]]\n")

	out, err := exec.Command(binPath, "--config", conf, "--test", "--pidfile", pidFile).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NoFileExists(t, pidFile)

	p := startBinary(t, nil, "--config", conf, "--pidfile", pidFile)
	proctest.WaitFor(t, 30*time.Second, "the agent to run", func() bool {
		return strings.Contains(p.Stderr.String(), "Loaded outputs: discard")
	})
	data, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(p.PID())+"\n", string(data))
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGHUP))
	proctest.WaitFor(t, 30*time.Second, "the reload", func() bool { return strings.Count(p.Stderr.String(), "Running config:") == 2 })
	require.FileExists(t, pidFile)
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, p.Wait(t, 30*time.Second), p.Stderr.String())
	require.NoFileExists(t, pidFile)
}
