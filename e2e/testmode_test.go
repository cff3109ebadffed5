package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

// --test changes nothing a running agent acts on: it shows the alert it
// would send, and leaves no alertstate state file, no directory, no
// Telegraf statefile, no disk buffer and no Telegram output directory behind
// (everything the configuration keeps is under a fresh temp root). The first
// real run afterwards alerts.
func TestTestModeLeavesNoTrace(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t, "telegraf-procblocking")
	tg := botapitest.New(t, e2eToken)
	marker := newMarker("testmode")
	w := newWatchdog(t, marker, tg.URL())
	w.threshold = "1s"
	w.root = filepath.Join(t.TempDir(), "state") // not even the directory exists
	conf := w.write(t)
	orphan := startOrphan(t, marker)

	// Until the process is older than the threshold --test shows no alert;
	// every run in between must leave no trace either.
	const alertLine = "> procblocking_alert,event=alert,"
	var out string
	waitFor(t, "--test to show the alert", func() bool {
		cmd := exec.Command(bin, "--config", conf, "--test")
		cmd.Env = append(os.Environ(), w.env()...)
		stdout, err := cmd.Output()
		require.NoError(t, err, "%s", stdout)
		requireNoTrace(t, filepath.Dir(w.root))
		out = string(stdout)
		return strings.Contains(out, alertLine)
	})
	require.Regexp(t, fmt.Sprintf(`(?m)^%s.*,pid=%d `, alertLine, orphan.PID), out)
	require.Zero(t, tg.Requests(), "--test sent a message")

	// --test-wait N is a test run too, as upstream has it: the same output,
	// no trace, and it ends by itself once it has waited N seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config", conf, "--test-wait", "1")
	cmd.Env = append(os.Environ(), w.env()...)
	started := time.Now()
	stdout, err := cmd.Output()
	require.NoError(t, err, "--test-wait 1 did not end by itself: %s", stdout)
	require.GreaterOrEqual(t, time.Since(started), time.Second, "it waits the seconds given")
	require.Regexp(t, fmt.Sprintf(`(?m)^%s.*,pid=%d `, alertLine, orphan.PID), string(stdout))
	requireNoTrace(t, filepath.Dir(w.root))
	require.Zero(t, tg.Requests(), "--test-wait sent a message")

	// The shipped configuration itself, on this machine's real processes.
	root := t.TempDir()
	data, err := os.ReadFile(filepath.Join("..", "telegraf.conf.example"))
	require.NoError(t, err)
	example := filepath.Join(t.TempDir(), "telegraf.conf")
	require.NoError(t, os.WriteFile(example, []byte(strings.ReplaceAll(string(data), shippedStateDir, filepath.Join(root, "state"))), 0o600))
	stdout, err = exec.Command(bin, "--config", example, "--test").Output()
	require.NoError(t, err, "%s", stdout)
	require.Contains(t, string(stdout), "> procblocking_scan,")
	requireNoTrace(t, root)

	// The first real run alerts at once.
	agent := proctest.Start(t, w.env(), bin, "--config", conf)
	waitFor(t, "the alert", func() bool {
		require.False(t, agent.Exited(), "%v\n%s", agent.Err(), agent.Stderr.String())
		return count(tg.Messages(), "alert") == 1
	})
	require.Contains(t, tg.Messages()[0].Text, fmt.Sprint(orphan.PID))
	require.NoError(t, agent.Cmd.Process.Signal(os.Interrupt))
	require.NoError(t, agent.Wait(t, 60*time.Second), agent.Stderr.String())

	// --test decides from the state file: the job is alerted already, so it
	// shows no alert, and the file stays as the real run left it.
	stateFile := filepath.Join(w.root, "alertstate.json")
	before, err := os.ReadFile(stateFile)
	require.NoError(t, err)
	info, err := os.Stat(stateFile)
	require.NoError(t, err)
	cmd = exec.Command(bin, "--config", conf, "--test")
	cmd.Env = append(os.Environ(), w.env()...)
	stdout, err = cmd.Output()
	require.NoError(t, err, "%s", stdout)
	require.Contains(t, string(stdout), "> procblocking_scan,")
	require.NotContains(t, string(stdout), alertLine, "--test ignored the state file")
	after, err := os.ReadFile(stateFile)
	require.NoError(t, err)
	require.Equal(t, before, after)
	info2, err := os.Stat(stateFile)
	require.NoError(t, err)
	require.True(t, os.SameFile(info, info2), "--test replaced the state file")
	require.Equal(t, info.ModTime(), info2.ModTime())
	require.Equal(t, 1, count(tg.Messages(), "alert"))
}

// requireNoTrace fails when anything exists under dir.
func requireNoTrace(t *testing.T, dir string) {
	t.Helper()
	var found []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if path != dir {
			found = append(found, path)
		}
		return err
	}))
	require.Empty(t, found, "--test left a trace")
}
