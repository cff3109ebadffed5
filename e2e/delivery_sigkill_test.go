package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

// defaultsConfig is the watchdog's configuration with the Telegram output on
// its defaults (no state_directory: no queue of its own on disk) under the
// shipped [agent] table, whose disk buffer keeps what the outputs have not
// acknowledged.
func defaultsConfig(t *testing.T, w *watchdog) string {
	t.Helper()
	agent := shippedTable(t, "[agent]", w.root, map[string]string{`interval`: `"1s"`})
	conf := fmt.Sprintf(`%s
[[inputs.procblocking]]
  patterns = [%q]

%s
[[outputs.telegram]]
  namepass = ["procblocking_alert"]
  token = "${TELEGRAM_BOT_TOKEN}"
  chat_id = "${TELEGRAM_CHAT_ID}"
  api_url = %q
  flush_interval = "1s"

[[outputs.file]]
  namepass = ["procblocking_alert", "procblocking_scan"]
  files = [%q]
  data_format = "influx"
  flush_interval = "1s"
`, agent, w.marker, alertStateTable(w.threshold, w.cooldown, filepath.Join(w.root, "alertstate.json")), w.tgURL, w.metrics)
	path := filepath.Join(t.TempDir(), "telegraf.conf")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
	return path
}

// The Telegram output on its defaults acknowledges to Telegraf only what it
// delivered: a recovery made during a Telegram outage stays in Telegraf's
// disk buffer, survives a SIGKILL of the agent and is delivered once after
// the restart; a clean restart then sends nothing again.
func TestTelegramDefaultsDiskBufferSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t, "telegraf-procblocking")
	tg := botapitest.New(t, e2eToken)
	marker := newMarker("ackdisk")
	w := newWatchdog(t, marker, tg.URL())
	conf := defaultsConfig(t, w)

	orphan := startOrphan(t, marker)
	agent := proctest.Start(t, w.env(), bin, "--config", conf)
	waitFor(t, "the alert", func() bool {
		require.False(t, agent.Exited(), "agent exited: %v\n%s", agent.Err(), agent.Stderr.String())
		return count(tg.Messages(), "alert") == 1
	})

	// The output cannot deliver the recovery and does not acknowledge it:
	// Telegraf's disk buffer keeps it across the SIGKILL.
	agent = recoveryAcrossSIGKILL(t, bin, w, conf, orphan, tg, agent, func(agent *proctest.Proc) {
		_, err := os.Stat(filepath.Join(w.root, "telegram"))
		require.ErrorIs(t, err, os.ErrNotExist, "the output kept no queue of its own: the disk buffer held the recovery")
		waitFor(t, "Telegraf told the recovery is not delivered, so its buffer keeps it", func() bool {
			return strings.Contains(agent.Stderr.String(), "Error writing to outputs.telegram: not delivered yet")
		})
	})
	require.NotContains(t, agent.Stderr.String(), e2eToken)
}
