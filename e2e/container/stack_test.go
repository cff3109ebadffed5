package container

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

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
)

const (
	botToken = "123456:container-test-token"
	chatID   = "-100123456789"
)

// stack is one compose project: the project's docker-compose.yml plus the
// test's override, brought up by a leg's compose on its engine.
type stack struct {
	s         *testEnv
	project   string
	overrides []string
	upEnv     []string // the variables `up` needs: token, chat, InfluxDB's port
	influx    influx
	bot       *botapitest.Server
	job       *job
	volume    string // the state volume's directory on the host
}

// testConfig is the watchdog's configuration in the tests: the shipped
// config's state locations, a one-second interval, a two-second threshold
// and no grouping of events, a pattern only the test's job matches, and the
// Bot API stand-in.
const testConfig = `[agent]
  interval = "1s"
  flush_interval = "1s"
  statefile = "/var/lib/procblocking/telegraf.state"
  buffer_strategy = "disk"
  buffer_directory = "/var/lib/procblocking/buffer"
  skip_processors_after_aggregators = true

[[inputs.procblocking]]
  patterns = [%q]

[[processors.alertstate]]
  threshold = "2s"
  cooldown = "1h"
  ## Each event at once: the test awaits them one by one.
  group_interval = "0s"
  language = "en"
  state_file = "/var/lib/procblocking/alertstate.json"

[[outputs.telegram]]
  namepass = ["procblocking_alert"]
  token = "${TELEGRAM_BOT_TOKEN}"
  chat_id = "${TELEGRAM_CHAT_ID}"
  api_url = %q
  state_directory = "/var/lib/procblocking/telegram"
  flush_interval = "1s"

[[outputs.influxdb]]
  urls = ["${INFLUXDB_URL}"]
  database = "procblocking"
  namepass = ["procblocking", "procblocking_scan", "procblocking_alert"]
`

// newStack writes the test's config and override for a new project and
// starts its job; extraFiles are more compose files (a shipped variant)
// placed between docker-compose.yml and the test's override, and extraYAML
// is appended to the override.
func (s *testEnv) newStack(t *testing.T, extraFiles []string, extraYAML string) *stack {
	t.Helper()
	m := marker(t)
	dir := t.TempDir()
	st := &stack{s: s, project: m, bot: botapitest.New(t, botToken)}
	net := s.network(t)
	st.job = s.startJob(t, m)
	apiURL := forward(t, net.gateway, st.bot.URL())

	conf := filepath.Join(dir, "telegraf.conf")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, testConfig, st.job.pattern, apiURL), 0o644))
	override := filepath.Join(dir, "test.yml")
	// Test-only: the config above, and a network made for the project (with
	// a subnet and bridge no other network uses) as its default.
	require.NoError(t, os.WriteFile(override, fmt.Appendf(nil, `services:
  watchdog:
    volumes:
      - %s:/etc/telegraf/telegraf.conf:ro
networks:
  default:
    external: true
    name: %s
%s`, conf, net.name, extraYAML), 0o644))
	for _, f := range extraFiles {
		st.overrides = append(st.overrides, filepath.Join(repoRoot, f))
	}
	st.overrides = append(st.overrides, override)

	port := freePort(t)
	st.influx = influx{url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	st.upEnv = []string{
		"TELEGRAM_BOT_TOKEN=" + botToken,
		"TELEGRAM_CHAT_ID=" + chatID,
		"INFLUXDB_PORT=" + strconv.Itoa(port),
	}
	t.Cleanup(func() {
		// Without TELEGRAM_*: `down` must not need them.
		if out, err := s.compose(st.project, st.overrides, nil, "down", "--volumes", "--remove-orphans", "--timeout", "10"); err != nil {
			t.Errorf("%s down: %v\n%s", s.composer.name, err, out)
		}
	})
	return st
}

// compose runs the leg's compose on the stack, with `up`'s variables when withEnv.
func (st *stack) compose(t *testing.T, withEnv bool, args ...string) string {
	t.Helper()
	var env []string
	if withEnv {
		env = st.upEnv
	}
	out, err := st.s.compose(st.project, st.overrides, env, args...)
	require.NoError(t, err, "%s %s:\n%s", st.s.composer.name, strings.Join(args, " "), out)
	return out
}

// up starts (or recreates) the stack with the image already built.
func (st *stack) up(t *testing.T, args ...string) {
	t.Helper()
	st.compose(t, true, append([]string{"up", "--detach", "--no-build"}, args...)...)
}

// watchdog returns the id of the running watchdog container. `ps` runs
// without TELEGRAM_*: it must not need them.
func (st *stack) watchdog(t *testing.T) string {
	t.Helper()
	id := strings.TrimSpace(st.compose(t, false, "ps", "--quiet", "watchdog"))
	require.Len(t, id, 64, "watchdog container id")
	return id
}

// inspect returns an inspect template's value for a container.
func (st *stack) inspect(t *testing.T, id, format string) string {
	t.Helper()
	out, err := st.s.cli("inspect", "--format", format, id)
	require.NoError(t, err, out)
	return strings.TrimSpace(out)
}

// logs is the watchdog's log, for failure messages.
func (st *stack) logs(t *testing.T) string {
	out, _ := st.s.compose(st.project, st.overrides, nil, "logs", "--no-color", "--tail", "60", "watchdog")
	return out
}

// scansSince counts the scans InfluxDB got from host after since.
func (st *stack) scansSince(t *testing.T, host string, since time.Time) int {
	return st.influx.count(t, fmt.Sprintf(`SELECT count("ok") FROM "procblocking_scan" WHERE "host" = '%s' AND time > '%s'`,
		host, since.UTC().Format(time.RFC3339Nano)))
}

// awaitScans waits until the watchdog has scanned n times after since: time
// for any alert those scans would send to have arrived.
func (st *stack) awaitScans(t *testing.T, host string, since time.Time, n int) {
	t.Helper()
	waitFor(t, 90*time.Second, fmt.Sprintf("%d scans in InfluxDB after %s", n, since.Format(time.TimeOnly)), func() bool {
		return st.scansSince(t, host, since) >= n
	})
}

// awaitMessages waits for n messages at the Bot API stand-in.
func (st *stack) awaitMessages(t *testing.T, n int, what string) []botapitest.Message {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for len(st.bot.Messages()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; messages: %q\nwatchdog log:\n%s", what, botapitest.EventKinds(st.bot.Messages()), st.logs(t))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return st.bot.Messages()
}

// TestComposeStack runs docker-compose.yml as shipped (its security settings,
// pid: host, the named state volume, the InfluxDB service), with a test
// config, against a pytest-like orphan in another container: one alert that
// names the host, nothing more across a restart and a recreation of the
// container, one recovery, and the history in the compose file's InfluxDB.
// It does so on every leg: podman with docker-compose 1.29, Docker with
// docker-compose 1.29's defaults, Docker with Compose v2, each with the
// image that leg's compose built.
func TestComposeStack(t *testing.T) {
	t.Parallel()
	for _, l := range legs {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			testComposeStack(t, l.get(t))
		})
	}
}

func testComposeStack(t *testing.T, s *testEnv) {
	logf := stepLogger(t)
	host := hostname(t)
	st := s.newStack(t, nil, "")
	logf("%s on %s; job %s: pid %d in container %.12s", s.composer.name, s.release, st.job.pattern, st.job.pid, st.job.containerID)

	t.Run("the docs name this engine and compose as tested", func(t *testing.T) {
		for _, doc := range []string{"docker-compose.yml", "README.md"} {
			text := docText(t, doc)
			require.Contains(t, text, s.release, doc)
			require.Contains(t, text, s.composer.name, doc)
		}
	})

	st.up(t)
	first := st.watchdog(t)
	logf("stack up, watchdog %.12s", first)

	t.Run("security settings as the kernel applies them", func(t *testing.T) {
		pid, err := strconv.Atoi(st.inspect(t, first, "{{.State.Pid}}"))
		require.NoError(t, err)
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		require.NoError(t, err)
		fields := map[string]string{}
		for line := range strings.Lines(string(status)) {
			k, v, _ := strings.Cut(line, ":")
			fields[k] = strings.Join(strings.Fields(v), " ")
		}
		require.Equal(t, "65532 65532 65532 65532", fields["Uid"], "uid")
		require.Equal(t, "65532 65532 65532 65532", fields["Gid"], "gid")
		require.Equal(t, "0000000000000000", fields["CapEff"], "effective capabilities")
		require.Equal(t, "0000000000000000", fields["CapPrm"], "permitted capabilities")
		require.Equal(t, "0000000000000000", fields["CapBnd"], "bounding set")
		require.Equal(t, "1", fields["NoNewPrivs"], "no-new-privileges")
		// pid: host: the watchdog shares the PID namespace of the engine (and of
		// this test), the host's.
		own, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
		require.NoError(t, err)
		hostNS, err := os.Readlink("/proc/self/ns/pid")
		require.NoError(t, err)
		require.Equal(t, hostNS, own, "PID namespace")
		require.Equal(t, "true", st.inspect(t, first, "{{.HostConfig.ReadonlyRootfs}}"), "read-only root")
		mounts := st.inspect(t, first, `{{range .Mounts}}{{.Destination}} {{.RW}};{{end}}`)
		require.Contains(t, mounts, "/var/lib/procblocking true;")
		require.Contains(t, mounts, "/host/etc/hostname false;")
	})

	msgs := st.awaitMessages(t, 1, "the alert")
	logf("alert delivered")
	require.Equal(t, []string{"alert"}, botapitest.EventKinds(msgs))
	require.Contains(t, msgs[0].Text, st.job.pattern)
	require.Contains(t, msgs[0].Text, host, "the alert names the host")
	require.NotContains(t, msgs[0].Text, first[:12], "the alert names the container, not the host")
	require.Equal(t, chatID, msgs[0].ChatID)

	t.Run("the history in the compose file's InfluxDB", func(t *testing.T) {
		q := fmt.Sprintf(`SELECT "container_id", "orphan", "host" FROM "procblocking" WHERE "pid" = '%d' ORDER BY time DESC LIMIT 1`, st.job.pid)
		var rows []row
		waitFor(t, 60*time.Second, "the job's points in InfluxDB", func() bool {
			rows, _ = st.influx.query(q)
			return len(rows) > 0
		})
		require.Equal(t, st.job.containerID, rows[0]["container_id"], "container_id: the job's container")
		require.Equal(t, true, rows[0]["orphan"], "orphan: reparented onto its container's init")
		require.Equal(t, host, rows[0]["host"], "host tag: the host's name")
		var alerts []row
		waitFor(t, 60*time.Second, "the alert event in InfluxDB", func() bool {
			alerts, _ = st.influx.query(`SELECT "message", "host" FROM "procblocking_alert" WHERE "event" = 'alert'`)
			return len(alerts) > 0
		})
		require.Len(t, alerts, 1)
		require.Equal(t, host, alerts[0]["host"])
	})

	out, err := s.cli("volume", "inspect", "--format", "{{.Mountpoint}}", st.project+"_procblocking-state")
	require.NoError(t, err, out)
	st.volume = strings.TrimSpace(out)
	requireOwned(t, filepath.Join(st.volume, "alertstate.json"), false)
	requireOwned(t, filepath.Join(st.volume, "buffer"), true)
	requireOwned(t, filepath.Join(st.volume, "telegram"), true)

	st.compose(t, false, "restart", "--timeout", "10")
	since := time.Now()
	logf("restarted")
	requireOwned(t, filepath.Join(st.volume, "telegraf.state"), false)
	st.awaitScans(t, host, since, 3)
	require.Len(t, st.bot.Messages(), 1, "messages after the restart: %q", botapitest.EventKinds(st.bot.Messages()))
	logf("no alert again after the restart")

	st.up(t, "--force-recreate")
	since = time.Now()
	second := st.watchdog(t)
	require.NotEqual(t, first, second, "a new container")
	logf("recreated, watchdog %.12s", second)
	st.awaitScans(t, host, since, 3)
	require.Len(t, st.bot.Messages(), 1, "messages after the recreation: %q", botapitest.EventKinds(st.bot.Messages()))
	logf("no alert again after the recreation")

	st.job.kill(t)
	st.awaitMessages(t, 2, "the recovery")
	logf("recovery delivered")
	since = time.Now()
	st.awaitScans(t, host, since, 3)
	msgs = st.bot.Messages()
	require.Equal(t, []string{"alert", "recovery"}, botapitest.EventKinds(msgs))
	require.Contains(t, msgs[1].Text, host)

	logResources(t, st, second, logf)
}

// docText is a file of the project as prose: comment markers, table bars and
// line breaks taken out, so that a name reads the same wherever a line or a
// cell breaks it.
func docText(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, name))
	require.NoError(t, err)
	var words []string
	for line := range strings.Lines(string(b)) {
		line = strings.TrimLeft(strings.TrimSpace(line), "#|")
		words = append(words, strings.Fields(strings.ReplaceAll(line, "|", " "))...)
	}
	return strings.Join(words, " ")
}

// requireOwned checks that path exists on the state volume, owned by the
// watchdog's uid.
func requireOwned(t *testing.T, path string, dir bool) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err, "%s on the state volume", filepath.Base(path))
	require.Equal(t, dir, fi.IsDir(), path)
	st := fi.Sys().(*syscall.Stat_t)
	require.Equal(t, uint32(65532), st.Uid, "%s owner", path)
}

// logResources logs the watchdog's memory and CPU as the kernel counts them:
// what the Kubernetes requests and limits are set from.
func logResources(t *testing.T, st *stack, id string, logf func(string, ...any)) {
	t.Helper()
	pid, err := strconv.Atoi(st.inspect(t, id, "{{.State.Pid}}"))
	require.NoError(t, err)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	var rss, hwm string
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			hwm = strings.TrimSpace(v)
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	start, _ := strconv.ParseFloat(f[19], 64)
	uptime, err := os.ReadFile("/proc/uptime")
	require.NoError(t, err)
	up, _ := strconv.ParseFloat(strings.Fields(string(uptime))[0], 64)
	const hz = 100 // USER_HZ
	elapsed := up - start/hz
	scans, _ := st.influx.query(`SELECT last("processes") AS "processes" FROM "procblocking_scan"`)
	var processes any
	if len(scans) > 0 {
		processes = scans[0]["processes"]
	}
	logf("watchdog resources: RSS %s (peak %s), CPU %.1f%% of a core over %.0fs at a 1s interval, %v processes per scan",
		rss, hwm, 100*(utime+stime)/hz/elapsed, elapsed, processes)
}
