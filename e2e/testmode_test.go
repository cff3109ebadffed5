package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/botapitest"
	"github.com/procblocking/procblocking/internal/proctest"
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

	// The shipped configuration itself, on this machine's real processes.
	root := t.TempDir()
	data, err := os.ReadFile(filepath.Join("..", "telegraf.conf.example"))
	require.NoError(t, err)
	example := filepath.Join(t.TempDir(), "telegraf.conf")
	require.NoError(t, os.WriteFile(example, []byte(strings.ReplaceAll(string(data), shippedStateDir, filepath.Join(root, "state"))), 0o600))
	stdout, err := exec.Command(bin, "--config", example, "--test").Output()
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
	require.NoError(t, agent.Wait(t, 30*time.Second), agent.Stderr.String())
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
