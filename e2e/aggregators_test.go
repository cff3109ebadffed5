package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

// aggregatorsConfig is a main config as people keep one: its own output for
// everything and two aggregators over every metric, minmax (the originals
// pass on) and merge (the originals are replaced by the merged metrics,
// accepted however late a loaded machine hands them over).
const aggregatorsConfig = `[agent]
  interval = "1s"
  flush_interval = "1s"
  hostname = "aggregators"
  skip_processors_after_aggregators = %v

[[aggregators.minmax]]
  period = "2s"

[[aggregators.merge]]
  period = "1s"
  grace = "1m"
  drop_original = true

[[outputs.file]]
  files = [%q]
  data_format = "influx"
`

// shippedDropIn is telegraf.d/procblocking.conf with its state under dir,
// watching marker instead of the default pattern, with a threshold of 3 s
// and Telegram at tgURL. Each replaced line must be in the file, so that the
// test runs what is shipped.
func shippedDropIn(t *testing.T, dir, marker, tgURL string) string {
	t.Helper()
	conf := dropIn(t, dir)
	for _, r := range [][2]string{
		{`  min_age = "5m"`, fmt.Sprintf("  min_age = \"0s\"\n  [[inputs.procblocking.pattern]]\n    name = %q\n    regex = %q", marker, marker)},
		{`  threshold = "60m"`, `  threshold = "3s"`},
		{`  token = "${TELEGRAM_BOT_TOKEN}"`, fmt.Sprintf("  token = \"${TELEGRAM_BOT_TOKEN}\"\n  api_url = %q", tgURL)},
	} {
		require.Contains(t, conf, r[0]+"\n")
		conf = strings.Replace(conf, r[0]+"\n", r[1]+"\n", 1)
	}
	return conf
}

// alertEvents are the alert events of kind in a line-protocol file, as
// alertstate emits them (with their message), not an aggregator's
// minimum and maximum of them.
func alertEvents(t *testing.T, path, kind string) []telegraf.Metric {
	t.Helper()
	var out []telegraf.Metric
	for _, m := range events(t, path, kind) {
		if m.HasField("message") {
			out = append(out, m)
		}
	}
	return out
}

// The drop-in beside a main config with aggregators, both ways of
// skip_processors_after_aggregators (false is Telegraf v1.39's default):
// one stuck job gives one alert, on Telegram and in the history; no false
// "scans failing" message from aggregated scans; no aggregated alert sent to
// Telegram; no second alert after a SIGKILL and a restart.
func TestDropInBesideAggregators(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t, "telegraf-procblocking")
	for _, skip := range []bool{false, true} {
		t.Run(fmt.Sprintf("skip_processors_after_aggregators=%v", skip), func(t *testing.T) {
			t.Parallel()
			tg := botapitest.New(t, e2eToken)
			marker := newMarker("aggregators")
			etc, state := t.TempDir(), t.TempDir()
			metrics := filepath.Join(t.TempDir(), "metrics.out")
			conf := filepath.Join(etc, "telegraf.conf")
			confDir := filepath.Join(etc, "telegraf.d")
			require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(aggregatorsConfig, skip, metrics)), 0o600))
			require.NoError(t, os.Mkdir(confDir, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(confDir, "procblocking.conf"), []byte(shippedDropIn(t, state, marker, tg.URL())), 0o600))
			env := []string{"TELEGRAM_BOT_TOKEN=" + e2eToken, "TELEGRAM_CHAT_ID=-100123"}
			args := []string{"--config", conf, "--config-directory", confDir}

			orphan := startOrphan(t, marker)
			pid := strconv.Itoa(orphan.PID)
			agent := proctest.Start(t, env, bin, args...)
			waitFor(t, "the alert on Telegram", func() bool {
				require.False(t, agent.Exited(), "agent exited: %v\n%s", agent.Err(), agent.Stderr.String())
				return count(tg.Messages(), "alert") > 0
			})
			// The aggregators have had their say: minmax's aggregate of the
			// scans and of the alert event are in the history.
			waitFor(t, "aggregated scans and alert events", func() bool {
				var scans, alerts bool
				for _, m := range readMetrics(t, metrics) {
					scans = scans || m.Name() == "procblocking_scan" && m.HasField("matched_max")
					alerts = alerts || m.Name() == "procblocking_alert" && m.HasField("count_max")
				}
				return scans && alerts
			})
			awaitScans(t, metrics, 5)

			// A SIGKILL, and the agent comes back on the same state.
			agent.Kill(t)
			first := agent.Stderr.String()
			agent = proctest.Start(t, env, bin, args...)
			waitFor(t, "the restarted agent to scan", func() bool {
				require.False(t, agent.Exited(), "agent exited: %v\n%s", agent.Err(), agent.Stderr.String())
				return strings.Contains(agent.Stderr.String(), "Loaded outputs:")
			})
			awaitScans(t, metrics, 5)
			require.NoError(t, agent.Cmd.Process.Signal(os.Interrupt))
			require.NoError(t, agent.Wait(t, 60*time.Second), agent.Stderr.String())

			require.Equal(t, []string{"alert"}, botapitest.EventKinds(tg.Messages()), "one alert, nothing else, on Telegram")
			require.Contains(t, tg.Messages()[0].Text, pid)
			alerts := alertEvents(t, metrics, "alert")
			require.Len(t, alerts, 1, "one alert event in the history")
			require.Equal(t, pid, alerts[0].Tags()["pid"])
			require.Empty(t, alertEvents(t, metrics, "scan_failed"))
			for _, log := range []string{first, agent.Stderr.String()} {
				require.NotContains(t, log, "'ok' field")
				require.NotContains(t, log, `no string field "message"`)
				require.NotContains(t, log, "E!")
			}
		})
	}
}
