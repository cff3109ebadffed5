package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

// The tests below run the shipped configuration's [agent] table and its
// Telegram output, so that what they prove holds for what users run: its
// state directory is moved to a temp dir, and a few keys are set for speed.

// shippedStateDir is where the shipped configs keep everything.
const shippedStateDir = "/var/lib/procblocking"

// shippedTable returns a table of telegraf.conf.example ("[agent]",
// "[[outputs.telegram]]") with the state directory moved to root and the
// given keys set to the given TOML values.
func shippedTable(t testing.TB, header, root string, set map[string]string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "telegraf.conf.example"))
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		code, _, _ := strings.Cut(line, "#")
		code = strings.TrimSpace(code)
		if strings.HasPrefix(code, "[") {
			if in {
				break
			}
			in = code == header
		}
		if in {
			lines = append(lines, strings.ReplaceAll(line, shippedStateDir, root))
		}
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, lines, "no %s in telegraf.conf.example", header)
	for key, value := range set {
		re := regexp.MustCompile(`^\s*` + regexp.QuoteMeta(key) + `\s*=`)
		replaced := false
		for i, l := range lines {
			if re.MatchString(l) {
				lines[i] = fmt.Sprintf("  %s = %s", key, value)
				replaced = true
			}
		}
		if !replaced {
			lines = append(lines, fmt.Sprintf("  %s = %s", key, value))
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// alertStateTable is the alertstate processor of the end-to-end tests: the
// threshold and cooldown they need, and a state file unless stateFile is "".
// Options that only make the tests quicker belong here, once for all: no
// group window, so that each event goes out at the scan that makes it.
func alertStateTable(threshold, cooldown, stateFile string) string {
	table := fmt.Sprintf("[[processors.alertstate]]\n  threshold = %q\n  cooldown = %q\n  group_interval = \"0s\"\n", threshold, cooldown)
	if stateFile != "" {
		table += fmt.Sprintf("  state_file = %q\n", stateFile)
	}
	return table
}

// watchdog is a test configuration: the shipped [agent] and Telegram output,
// a pattern of the test's own, alertstate with a short threshold, and the
// scans and alert events written to a file to watch the agent by.
type watchdog struct {
	root      string // the state directory
	marker    string
	threshold string
	cooldown  string
	tgURL     string
	metrics   string // the file the agent writes its scans and events to
}

func newWatchdog(t testing.TB, marker, tgURL string) *watchdog {
	return &watchdog{
		root: t.TempDir(), marker: marker, threshold: "3s", cooldown: "1h", tgURL: tgURL,
		metrics: filepath.Join(t.TempDir(), "metrics.out"),
	}
}

// env is what the shipped config reads from the environment.
func (w *watchdog) env() []string {
	return []string{"TELEGRAM_BOT_TOKEN=" + e2eToken, "TELEGRAM_CHAT_ID=-100123"}
}

func (w *watchdog) config(t testing.TB) string {
	t.Helper()
	agent := shippedTable(t, "[agent]", w.root, map[string]string{`interval`: `"1s"`})
	tg := shippedTable(t, "[[outputs.telegram]]", w.root, map[string]string{`api_url`: fmt.Sprintf("%q", w.tgURL)})
	return fmt.Sprintf(`%s
[[inputs.procblocking]]
  patterns = [%q]

%s
%s
[[outputs.file]]
  namepass = ["procblocking_alert", "procblocking_scan"]
  files = [%q]
  data_format = "influx"
  flush_interval = "1s"
`, agent, w.marker, alertStateTable(w.threshold, w.cooldown, filepath.Join(w.root, "alertstate.json")), tg, w.metrics)
}

// write puts the config in a file outside the state directory.
func (w *watchdog) write(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "telegraf.conf")
	require.NoError(t, os.WriteFile(path, []byte(w.config(t)), 0o600))
	return path
}

// readMetrics parses the complete lines of a line-protocol file.
func readMetrics(t testing.TB, path string) []telegraf.Metric {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	if i := strings.LastIndexByte(string(data), '\n'); i >= 0 {
		data = data[:i+1]
	} else {
		return nil
	}
	p := &influx.Parser{}
	require.NoError(t, p.Init())
	ms, err := p.Parse(data)
	require.NoError(t, err)
	return ms
}

// events returns the alert events of kind (all kinds when empty) in the file.
func events(t testing.TB, path, kind string) []telegraf.Metric {
	t.Helper()
	var out []telegraf.Metric
	for _, m := range readMetrics(t, path) {
		if ev, _ := m.GetTag("event"); m.Name() == "procblocking_alert" && (kind == "" || ev == kind) {
			out = append(out, m)
		}
	}
	return out
}

// scans counts the scans in the file.
func scans(t testing.TB, path string) int {
	t.Helper()
	n := 0
	for _, m := range readMetrics(t, path) {
		if m.Name() == "procblocking_scan" {
			n++
		}
	}
	return n
}

// awaitScans waits until n more scans than now are in the file.
func awaitScans(t testing.TB, path string, n int) {
	t.Helper()
	want := scans(t, path) + n
	waitFor(t, fmt.Sprintf("%d more scans", n), func() bool { return scans(t, path) >= want })
}

// markers counts the markers handed out in this process.
var markers atomic.Int64

// newMarker is a pattern no other process on the machine matches: not even
// another test's, running in parallel, though the tests' processes carry
// their markers in their command lines and a pattern matches anywhere in
// one. The count, between two x's, makes it no part of another marker of
// this process; the PID and the time, of a marker of another run.
func newMarker(prefix string) string {
	return fmt.Sprintf("%s%dx%dx%d", prefix, os.Getpid(), markers.Add(1), time.Now().UnixNano()%1_000_000)
}

// waitFor polls cond with a timeout generous enough for a loaded machine.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	proctest.WaitFor(t, 60*time.Second, what, cond)
}
