package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

// A reload forgets nothing: a storm of 20 SIGHUPs while a process is alerted
// gives no second alert, and when the process is killed during the storm it
// gets exactly one recovery. The configuration is shaped as the embedded
// default (alertstate's default state file, no Telegraf statefile, memory
// buffer).
func TestSighupStormKeepsAlertState(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t, "telegraf-procblocking")
	marker := newMarker("storm")
	metrics := filepath.Join(t.TempDir(), "metrics.out")
	// Short intervals keep the 20 reloads, each followed by a scan, quick.
	conf := writeFile(t, fmt.Sprintf(`[agent]
  interval = "250ms"
  flush_interval = "100ms"
  skip_processors_after_aggregators = true

[[inputs.procblocking]]
  patterns = [%q]

%s
[[outputs.file]]
  namepass = ["procblocking_alert", "procblocking_scan"]
  files = [%q]
  data_format = "influx"
`, marker, alertStateTable("2s", "1h", ""), metrics))

	orphan := startOrphan(t, marker)
	pid := strconv.Itoa(orphan.PID)
	stateDir := t.TempDir()
	agent := proctest.Start(t, []string{"PROCBLOCKING_STATE_DIR=" + stateDir}, bin, "--config", conf)
	waitFor(t, "the alert", func() bool { return len(events(t, metrics, "alert")) == 1 })

	for i := 1; i <= 20; i++ {
		require.NoError(t, syscall.Kill(agent.PID(), syscall.SIGHUP))
		// Each reload runs a scan before the next one, so that a new
		// processor that forgot the state would alert again.
		waitFor(t, fmt.Sprintf("reload %d", i), func() bool {
			require.False(t, agent.Exited(), "%v\n%s", agent.Err(), agent.Stderr.String())
			return strings.Count(agent.Stderr.String(), "Running config:") == i+1
		})
		awaitScans(t, metrics, 1)
		if i == 10 {
			orphan.kill(t)
		}
	}
	waitFor(t, "the recovery", func() bool { return len(events(t, metrics, "recovery")) >= 1 })
	awaitScans(t, metrics, 3)
	require.NoError(t, agent.Cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, agent.Wait(t, 60*time.Second), agent.Stderr.String())

	var kinds []string
	for _, m := range events(t, metrics, "") {
		kinds = append(kinds, m.Tags()["event"])
		require.Equal(t, pid, m.Tags()["pid"])
	}
	t.Logf("events over 20 SIGHUPs: %v", kinds)
	require.Equal(t, []string{"alert", "recovery"}, kinds, "a reload alerted again or lost the recovery")
	require.FileExists(t, filepath.Join(stateDir, "alertstate.json"), "the default state file")
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "telegraf.conf")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}
