package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

const e2eToken = "123456:e2e-token-never-in-logs"

// count is how many of msgs are events of kind.
func count(msgs []botapitest.Message, kind string) int {
	n := 0
	for _, m := range msgs {
		if botapitest.EventKind(m.Text) == kind {
			n++
		}
	}
	return n
}

// e2eConfig is the agent's test configuration: interval 1s, threshold 3s,
// cooldown 6s, alert state on disk, Telegram at the fake, history in InfluxDB.
func e2eConfig(dir, marker, host, telegramURL, influxURL string) string {
	return fmt.Sprintf(`[agent]
  interval = "1s"
  flush_interval = "1s"
  hostname = %q
  statefile = %q
  skip_processors_after_aggregators = true

[[inputs.procblocking]]
  patterns = [%q]

%s
[[outputs.telegram]]
  namepass = ["procblocking_alert"]
  token = "${E2E_TELEGRAM_TOKEN}"
  chat_id = "-100123"
  api_url = %q
  timeout = "2s"

[[outputs.influxdb]]
  urls = [%q]
  database = "procblocking"
`, host, filepath.Join(dir, "telegraf.state"), marker, alertStateTable("3s", "6s", filepath.Join(dir, "alertstate.json")), telegramURL, influxURL)
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t, "telegraf-procblocking")
	influx := startInflux(t)
	tg := botapitest.New(t, e2eToken)

	marker := newMarker("e2e")
	host := "e2e-" + marker
	dir := t.TempDir()
	conf := filepath.Join(dir, "telegraf.conf")
	require.NoError(t, os.WriteFile(conf, []byte(e2eConfig(dir, marker, host, tg.URL(), influx.URL)), 0o600))
	env := []string{"E2E_TELEGRAM_TOKEN=" + e2eToken}

	orphan := startOrphan(t, marker)
	pidTag := strconv.Itoa(orphan.PID)
	t.Logf("orphan PID %d (%s), root=%v", orphan.PID, orphan.Cmdline, isRoot())

	// Telegram is down when the first alert fires.
	tg.SetDefault(botapitest.Response{Status: 500, Description: "Internal Server Error"})
	agent := proctest.Start(t, env, bin, "--config", conf)
	proctest.WaitFor(t, 60*time.Second, "failed sendMessage attempts while Telegram answers 500", func() bool {
		require.False(t, agent.Exited(), "agent exited: %v\n%s", agent.Err(), agent.Stderr.String())
		return tg.Requests() >= 2
	})
	require.Empty(t, tg.Messages())
	tg.SetDefault(botapitest.Response{})

	proctest.WaitFor(t, 60*time.Second, "the pending alert once Telegram is back", func() bool { return count(tg.Messages(), "alert") >= 1 })
	alert := tg.Messages()[0]
	require.Equal(t, "alert", botapitest.EventKind(alert.Text), alert.Text)
	require.Equal(t, "-100123", alert.ChatID)
	// The words are alertstate's (and its language's); the PID and the
	// command line are in every language.
	require.Contains(t, alert.Text, pidTag)
	require.Contains(t, alert.Text, orphan.Cmdline)

	proctest.WaitFor(t, 60*time.Second, "the realert after the cooldown", func() bool { return count(tg.Messages(), "realert") >= 1 })
	require.Equal(t, []string{"alert", "realert"}, botapitest.EventKinds(tg.Messages()), "the alert delayed by the 500s must arrive exactly once")
	require.Contains(t, tg.Messages()[1].Text, pidTag)

	// The history holds the realert before the agent dies, so that the
	// queries below do not depend on what a SIGKILL loses in flight.
	var realertAt time.Time
	proctest.WaitFor(t, 60*time.Second, "the realert in InfluxDB", func() bool {
		rows := influx.query(t, "procblocking", `SELECT "message" FROM "procblocking_alert" WHERE "event" = 'realert' ORDER BY time LIMIT 1`)
		if len(rows) == 0 {
			return false
		}
		var err error
		realertAt, err = time.Parse(time.RFC3339Nano, rows[0]["time"].(string))
		require.NoError(t, err)
		return true
	})

	// SIGKILL while the process is alerted, then restart on the same state.
	agent.Kill(t)
	killedAt := time.Now()
	agent = proctest.Start(t, env, bin, "--config", conf)
	proctest.WaitFor(t, 60*time.Second, "a scan of the restarted agent in InfluxDB", func() bool {
		q := fmt.Sprintf(`SELECT "matched" FROM "procblocking_scan" WHERE time > %d`, killedAt.UnixNano())
		return len(influx.query(t, "procblocking", q)) > 0
	})
	// The process lives on until the restarted agent has scanned past the
	// cooldown since the realert, in the agent's time: a restart that
	// re-alerts within the cooldown leaves an event timestamped in it,
	// which the history's check below refuses. (When the test saw the
	// realert is no measure of it: on a loaded machine the restart may
	// legitimately reach the next realert before the test looks.)
	cooldownEnd := realertAt.Add(6 * time.Second)
	proctest.WaitFor(t, time.Minute, "a scan of the restarted agent past the cooldown", func() bool {
		q := fmt.Sprintf(`SELECT "matched" FROM "procblocking_scan" WHERE time > %d AND time >= %d`, killedAt.UnixNano(), cooldownEnd.UnixNano())
		return len(influx.query(t, "procblocking", q)) > 0
	})

	orphan.kill(t)
	proctest.WaitFor(t, 60*time.Second, "the recovery", func() bool { return count(tg.Messages(), "recovery") >= 1 })
	recoverySeen := time.Now()
	recovery := tg.Messages()[len(tg.Messages())-1]
	require.Contains(t, recovery.Text, pidTag)
	require.Contains(t, recovery.Text, orphan.Cmdline)
	// A few more scans: the recovery must stay the only one.
	proctest.WaitFor(t, 60*time.Second, "three scans after the recovery", func() bool {
		q := fmt.Sprintf(`SELECT "matched" FROM "procblocking_scan" WHERE time > %d`, recoverySeen.UnixNano())
		return len(influx.query(t, "procblocking", q)) >= 3
	})

	// A clean stop flushes the outputs: InfluxDB then holds every event
	// with the time of the scan that made it.
	require.NoError(t, agent.Cmd.Process.Signal(os.Interrupt))
	require.NoError(t, agent.Wait(t, 60*time.Second), agent.Stderr.String())

	// One alert, realerts only a whole cooldown apart (a slow restart may
	// legitimately reach the next one), one recovery; each delivered once.
	events := influx.query(t, "procblocking", `SELECT "message", "event" FROM "procblocking_alert" ORDER BY time`)
	var eventKinds []string
	var lastAlert time.Time
	for i, e := range events {
		kind := e["event"].(string)
		eventKinds = append(eventKinds, kind)
		at, err := time.Parse(time.RFC3339Nano, e["time"].(string))
		require.NoError(t, err)
		switch {
		case i == 0:
			require.Equal(t, "alert", kind)
		case i == len(events)-1:
			require.Equal(t, "recovery", kind)
		default:
			require.Equal(t, "realert", kind, "%v", eventKinds)
			require.GreaterOrEqual(t, at.Sub(lastAlert), 6*time.Second, "a realert within the cooldown: %v", eventKinds)
		}
		lastAlert = at
	}
	require.GreaterOrEqual(t, len(eventKinds), 3, "%v", eventKinds)
	require.Equal(t, eventKinds, botapitest.EventKinds(tg.Messages()), "each event delivered to Telegram exactly once")
	require.NotContains(t, agent.Stderr.String(), e2eToken, "the bot token leaked into the log")
	require.NotContains(t, agent.Stderr.String(), strings.SplitN(e2eToken, ":", 2)[1])

	t.Run("README queries", func(t *testing.T) {
		queries := readmeQueries(t)
		require.GreaterOrEqual(t, len(queries), 3, "the README's ```sql blocks")
		checkREADMEQueries(t, influx, queries, host, pidTag, orphan.Cmdline)
	})
}

// checkREADMEQueries runs the README's InfluxQL against the history the
// end-to-end run wrote, and checks each answer.
func checkREADMEQueries(t *testing.T, influx *influxServer, queries []string, host, pidTag, cmdline string) {
	checked := 0
	for _, q := range queries {
		rows := influx.query(t, "procblocking", q)
		t.Logf("%s\n  -> %v", q, rows)
		switch {
		case strings.Contains(q, "count("):
			// Alert events per kind.
			perKind := map[string]float64{}
			for _, r := range rows {
				if r["host"] == host {
					perKind[r["event"].(string)] += num(t, r, "count")
				}
			}
			require.Equal(t, 1.0, perKind["alert"], "%v", perKind)
			require.GreaterOrEqual(t, perKind["realert"], 1.0, "%v", perKind)
			require.Equal(t, 1.0, perKind["recovery"], "%v", perKind)
			checked++
		case strings.Contains(q, `max("age_seconds")`):
			// The oldest matching process per host over the last hour.
			var mine row
			for _, r := range rows {
				if r["host"] == host {
					require.Nil(t, mine, "one row per host")
					mine = r
				}
			}
			require.NotNil(t, mine, "no row for host %s", host)
			require.Equal(t, pidTag, mine["pid"])
			require.Equal(t, cmdline, mine["cmdline"])
			require.GreaterOrEqual(t, num(t, mine, "age_seconds"), 3.0)
			if isRoot() {
				require.Equal(t, true, mine["orphan"])
			}
			checked++
		case strings.Contains(q, `FROM "procblocking_alert"`):
			// The alert events with their kind and PID.
			var events []string
			for _, r := range rows {
				if r["pid"] == pidTag {
					events = append(events, r["event"].(string))
					require.NotEmpty(t, r["message"])
				}
			}
			require.Equal(t, "alert", events[0], "%v", events)
			require.Equal(t, "recovery", events[len(events)-1], "%v", events)
			require.Contains(t, events, "realert")
			checked++
		}
	}
	require.Equal(t, 3, checked, "each README query is checked")
}
