package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
	"github.com/procblocking/procblocking/tools/plugintags/catalog"
)

// stockCooldown is alertstate's cooldown in this test: the shortest gap
// between two alerts of one process.
const stockCooldown = 6 * time.Second

var (
	stockMu    sync.Mutex
	stockBuilt = map[string]string{}
)

// buildStockTelegraf builds upstream Telegraf's own cmd/telegraf, of the
// version in go.mod and stamped with it as Telegraf's release builds are,
// with only the plugins the configuration files use, selected by Telegraf's
// build tags as its custom builder does. Built once per set of tags.
func buildStockTelegraf(t *testing.T, configs ...string) string {
	t.Helper()
	cat, err := catalog.Load()
	require.NoError(t, err)
	tags, err := cat.Tags(configs...)
	require.NoError(t, err)
	key := strings.Join(tags, ",")

	stockMu.Lock()
	defer stockMu.Unlock()
	if path, ok := stockBuilt[key]; ok {
		return path
	}
	list := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/influxdata/telegraf")
	list.Dir = ".."
	out, err := list.Output()
	require.NoError(t, err)
	// As Telegraf's release builds have it: a semantic version without the
	// "v", which its config loader parses.
	version := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	stamp := "-X github.com/influxdata/telegraf/internal.Version=" + version
	start := time.Now()
	path, err := proctest.Binary("..", "telegraf", "-tags", key, "-ldflags", stamp, "github.com/influxdata/telegraf/cmd/telegraf")
	require.NoError(t, err)
	t.Logf("built stock Telegraf with -tags %s in %s", key, time.Since(start).Round(100*time.Millisecond))
	out, err = exec.Command(path, "--version").CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "Telegraf "+version, "the stock Telegraf is go.mod's")
	stockBuilt[key] = path
	return path
}

// readmeExecdTables returns the Telegraf side of the README's "Stock Telegraf
// with execd" section: its ```toml block.
func readmeExecdTables(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(data), "### 3. Stock Telegraf with execd\n")
	require.True(t, ok, "README.md has no section \"### 3. Stock Telegraf with execd\"")
	section, _, _ = strings.Cut(section, "\n## ")
	_, block, ok := strings.Cut(section, "```toml\n")
	require.True(t, ok, "the execd section has no ```toml block")
	block, _, ok = strings.Cut(block, "```")
	require.True(t, ok)
	return block
}

// shimCommand is a shim's command line in the README's tables: the shim's
// installed path and its --config file.
var shimCommand = regexp.MustCompile(`"/usr/local/bin/([a-z]+-execd)", "--config", "(/etc/procblocking/[^"]+)"`)

// stockAgent is a stock Telegraf running the README's execd tables.
type stockAgent struct {
	t       *testing.T
	bin     string
	configs []string
	env     []string
	proc    *proctest.Proc
	started time.Time
	// shimDir holds the shims; stateDir is the README's /var/lib/procblocking.
	shimDir, stateDir string
	// logs is the log of every run so far: Telegraf's and, through its
	// execd plugins, the shims' stderr.
	logs []string
}

func (a *stockAgent) start() {
	a.t.Helper()
	args := []string{}
	for _, c := range a.configs {
		args = append(args, "--config", c)
	}
	cmd := exec.Command(a.bin, args...)
	cmd.Env = append(os.Environ(), a.env...)
	// Its own process group, so that a crash can take the shims with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	a.started = time.Now()
	a.proc = proctest.StartCmd(a.t, cmd)
	p := a.proc
	a.t.Cleanup(func() {
		if !p.Exited() { // the group exists while its leader runs
			_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
		}
	})
}

// stop ends Telegraf with SIGTERM, as systemd does, and waits for it.
func (a *stockAgent) stop() {
	a.t.Helper()
	require.NoError(a.t, a.proc.Cmd.Process.Signal(syscall.SIGTERM))
	err := a.proc.Wait(a.t, 60*time.Second)
	a.logs = append(a.logs, a.proc.Stderr.String())
	require.NoError(a.t, err, a.proc.Stderr.String())
}

// crash SIGKILLs Telegraf and its shims at once, as the OOM killer or a
// killed container would.
func (a *stockAgent) crash() {
	a.t.Helper()
	require.NoError(a.t, syscall.Kill(-a.proc.PID(), syscall.SIGKILL))
	_ = a.proc.Wait(a.t, 60*time.Second)
	a.logs = append(a.logs, a.proc.Stderr.String())
}

// quiesce stops alertstate-execd (SIGSTOP), so that no event sets out, and
// waits until every event on its way has arrived: the history shows what
// Telegram shows, and telegram-execd has recorded each delivery in its
// queue file. A crash then catches nothing in flight: neither an event
// Telegraf has yet to write to the history, nor a message Telegram took
// before telegram-execd recorded it, which comes again after the restart (at
// least once, as the output's README says) and is not the replay under test.
func (a *stockAgent) quiesce(tg *botapitest.Server, history string) {
	a.t.Helper()
	shim := filepath.Join(a.shimDir, "alertstate-execd")
	var pid int
	proctest.WaitFor(a.t, 60*time.Second, "alertstate-execd to run", func() bool {
		a.requireRunning()
		pid = proctest.FindByArgv0(func(argv0 []byte) bool { return string(argv0) == shim })
		return pid != 0
	})
	require.NoError(a.t, syscall.Kill(pid, syscall.SIGSTOP))
	queue := filepath.Join(a.stateDir, "telegram", "queue.log")
	proctest.WaitFor(a.t, 60*time.Second, "the events on their way to arrive", func() bool {
		a.requireRunning()
		return slices.Equal(eventKinds(events(a.t, history, "")), botapitest.EventKinds(tg.Messages())) &&
			queueFinished(queue)
	})
}

func (a *stockAgent) requireRunning() {
	a.t.Helper()
	require.False(a.t, a.proc.Exited(), "Telegraf exited: %v\n%s", a.proc.Err(), a.proc.Stderr.String())
}

func eventKinds(events []telegraf.Metric) []string {
	out := make([]string, 0, len(events))
	for _, e := range events {
		kind, _ := e.GetTag("event")
		out = append(out, kind)
	}
	return out
}

// scansSince counts the scans in the history taken after since.
func scansSince(history []telegraf.Metric, since time.Time) int {
	n := 0
	for _, m := range history {
		if m.Name() == "procblocking_scan" && m.Time().After(since) {
			n++
		}
	}
	return n
}

// startStockWatchdog runs the README's execd tables under a stock Telegraf
// with the given tables of the three shims (keyed by the shim's name), which
// may use /var/lib/procblocking for state; only the paths change. Telegraf
// writes every metric to the returned history file. The agent is started.
func startStockWatchdog(t *testing.T, host string, shimConfigs map[string]string) (*stockAgent, string) {
	t.Helper()
	tables := readmeExecdTables(t)
	shims := map[string]string{} // shim name -> its --config path in the README
	for _, m := range shimCommand.FindAllStringSubmatch(tables, -1) {
		shims[m[1]] = m[2]
	}
	require.Len(t, shims, 3, "the README's tables must run the three shims:\n%s", tables)

	dir := t.TempDir()
	etcDir, stateDir := filepath.Join(dir, "etc"), filepath.Join(dir, "state")
	require.NoError(t, os.Mkdir(etcDir, 0o755))
	// One directory holds the shims, as /usr/local/bin in the README.
	shimDir := filepath.Join(dir, "bin")
	require.NoError(t, os.Mkdir(shimDir, 0o755))
	for name := range shims {
		require.NoError(t, os.Symlink(buildBinary(t, name), filepath.Join(shimDir, name)))
	}
	// Only the paths change: where the shims, their configurations and the
	// state live on this machine.
	local := strings.NewReplacer(
		"/usr/local/bin/", shimDir+"/",
		"/etc/procblocking/", etcDir+"/",
		"/var/lib/procblocking", stateDir,
	)
	for name, path := range shims {
		conf, ok := shimConfigs[name]
		require.True(t, ok, "unexpected shim %s in the README", name)
		require.NoError(t, os.WriteFile(local.Replace(path), []byte(local.Replace(conf)), 0o600))
	}
	history := filepath.Join(dir, "history.lp")
	agentConf := filepath.Join(dir, "agent.conf")
	require.NoError(t, os.WriteFile(agentConf, []byte(fmt.Sprintf(`[agent]
  interval = "1s"
  flush_interval = "1s"
  hostname = %q

[[outputs.file]]
  files = [%q]
`, host, history)), 0o600))
	execdConf := filepath.Join(dir, "execd.conf")
	require.NoError(t, os.WriteFile(execdConf, []byte(local.Replace(tables)), 0o600))

	agent := &stockAgent{
		t:       t,
		bin:     buildStockTelegraf(t, agentConf, execdConf),
		configs: []string{agentConf, execdConf},
		env:     []string{"TELEGRAM_BOT_TOKEN=" + e2eToken},
		shimDir: shimDir, stateDir: stateDir,
	}
	agent.start()
	return agent, history
}

// The README's execd tables under upstream Telegraf itself: alert, realert
// after the cooldown, a restart and a crash without a duplicate, a Telegram
// outage with a crash in it, one recovery; the token never logged.
func TestStockTelegrafRunsTheREADMEExecdTables(t *testing.T) {
	t.Parallel()
	tg := botapitest.New(t, e2eToken)
	orphan := startOrphan(t, newMarker("stock"))
	pidTag := strconv.Itoa(orphan.PID)
	host := "stock-" + orphan.Marker

	start := time.Now()
	agent, history := startStockWatchdog(t, host, map[string]string{
		"procblocking-execd": fmt.Sprintf("[[inputs.procblocking]]\n  patterns = [%q]\n", orphan.Marker),
		"alertstate-execd": fmt.Sprintf("[[processors.alertstate]]\n  threshold = \"3s\"\n  cooldown = %q\n"+
			"  group_interval = \"0s\"\n  state_file = \"/var/lib/procblocking/alertstate.json\"\n", stockCooldown),
		"telegram-execd": fmt.Sprintf("[[outputs.telegram]]\n  token = \"${TELEGRAM_BOT_TOKEN}\"\n  chat_id = \"-100123\"\n"+
			"  api_url = %q\n  timeout = \"2s\"\n", tg.URL()),
	})

	// The alert, then a realert a cooldown later.
	proctest.WaitFor(t, 60*time.Second, "the alert", func() bool {
		agent.requireRunning()
		return count(tg.Messages(), "alert") == 1
	})
	alert := tg.Messages()[0]
	require.Equal(t, "alert", botapitest.EventKind(alert.Text), alert.Text)
	require.Equal(t, "-100123", alert.ChatID)
	require.Contains(t, alert.Text, pidTag)
	require.Contains(t, alert.Text, orphan.Cmdline)
	realerts := 1
	awaitRealert := func(what string) {
		t.Helper()
		proctest.WaitFor(t, 60*time.Second, what, func() bool {
			agent.requireRunning()
			return count(tg.Messages(), "realert") >= realerts
		})
		require.Equal(t, 1, count(tg.Messages(), "alert"), "a duplicate alert: %v", botapitest.EventKinds(tg.Messages()))
		// In the history too, so that nothing is in flight when it stops.
		proctest.WaitFor(t, 60*time.Second, what+" in the history", func() bool {
			return strings.Count(strings.Join(eventKinds(events(t, history, "")), " "), "realert") >= realerts
		})
		realerts++
	}
	awaitRealert("the realert after the cooldown")

	// A restart (SIGTERM), then a crash (SIGKILL of Telegraf and the shims):
	// each time the alert state is taken up where it was.
	agent.stop()
	agent.start()
	awaitRealert("the realert after the restart")
	agent.quiesce(tg, history)
	agent.crash()
	agent.start()
	awaitRealert("the realert after the crash")

	// Telegram goes down and the process ends while the agent is down, so
	// that no realert falls due between the two: the recovery waits.
	agent.quiesce(tg, history)
	agent.crash()
	tg.SetDefault(botapitest.Response{Status: 502, Description: "Bad Gateway"})
	outageFrom := tg.Requests()
	orphan.kill(t)
	agent.start()
	proctest.WaitFor(t, 60*time.Second, "the recovery in the history", func() bool {
		agent.requireRunning()
		return strings.Contains(strings.Join(eventKinds(events(t, history, "")), " "), "recovery")
	})
	proctest.WaitFor(t, 60*time.Second, "a failed attempt to send the recovery", func() bool { return tg.Requests() > outageFrom })
	// telegram-execd's queue is on disk (--state-directory in the README's
	// table): a crash in the middle of the outage loses nothing.
	agent.crash()
	agent.start()
	tried := tg.Requests()
	proctest.WaitFor(t, 60*time.Second, "the restarted shim to retry the recovery", func() bool {
		agent.requireRunning()
		return tg.Requests() > tried
	})
	require.Zero(t, count(tg.Messages(), "recovery"))
	tg.SetDefault(botapitest.Response{})
	proctest.WaitFor(t, 60*time.Second, "the recovery once Telegram is back", func() bool {
		agent.requireRunning()
		return count(tg.Messages(), "recovery") == 1
	})
	recovered := time.Now()
	proctest.WaitFor(t, 60*time.Second, "three scans after the recovery", func() bool {
		return scansSince(readMetrics(t, history), recovered) >= 3
	})
	agent.stop()
	t.Logf("the run took %s", time.Since(start).Round(time.Second))

	// One alert, realerts at least a cooldown apart, one recovery, each
	// delivered to Telegram exactly once and nothing else.
	delivered := events(t, history, "")
	got := eventKinds(delivered)
	require.Equal(t, "alert", got[0], "%v", got)
	require.Equal(t, "recovery", got[len(got)-1], "%v", got)
	for i := 1; i < len(delivered)-1; i++ {
		require.Equal(t, "realert", got[i], "%v", got)
		gap := delivered[i].Time().Sub(delivered[i-1].Time())
		require.GreaterOrEqual(t, gap, stockCooldown, "a realert %s after the previous alert: %v", gap, got)
	}
	for _, e := range delivered {
		pid, _ := e.GetTag("pid")
		require.Equal(t, pidTag, pid)
		h, _ := e.GetTag("host")
		require.Equal(t, host, h)
	}
	require.Equal(t, got, botapitest.EventKinds(tg.Messages()), "each event delivered to Telegram exactly once")

	log := strings.Join(agent.logs, "\n")
	t.Logf("Telegraf's log:\n%s", log)
	require.NotEmpty(t, log)
	require.NotContains(t, log, e2eToken, "the bot token leaked into Telegraf's log")
	_, secret, _ := strings.Cut(e2eToken, ":")
	require.NotContains(t, log, secret, "the bot token leaked into Telegraf's log")
}
