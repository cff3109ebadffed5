package kubernetes

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConfigMapRunsInTheBinary runs the ConfigMap's Telegraf config, as the
// DaemonSet's environment fills it, through the real binary's `--test` over a
// fake proc tree: the config loads (an option the plugins do not know, or a
// bad value, stops it), the patterns catch the tree's pytest processes, and
// every metric and alert is tagged with the node's name.
func TestConfigMapRunsInTheBinary(t *testing.T) {
	_, _, cm, _ := readManifests(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "telegraf-procblocking")
	build := exec.Command("go", "build", "-o", bin, "./cmd/telegraf-procblocking")
	build.Dir = filepath.Join("..", "..")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building the binary:\n%s", out)

	// The state directory is the node's in a pod; here a temporary one, so
	// that the test writes nothing outside it whatever --test does.
	conf := strings.ReplaceAll(cm.Data["telegraf.conf"], "/var/lib/procblocking/", filepath.Join(dir, "state")+"/")
	confPath := filepath.Join(dir, "telegraf.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o600))

	procRoot, err := filepath.Abs("../../plugins/inputs/procblocking/testdata/proc_basic")
	require.NoError(t, err)
	cmd := exec.Command(bin, "--config", confPath, "--test")
	cmd.Env = append(os.Environ(),
		"NODE_NAME=node-7.example",
		"HOST_PROC="+procRoot,
		"TELEGRAM_BOT_TOKEN=123456:ABCdef",
		"TELEGRAM_CHAT_ID=-100123456789",
		"INFLUXDB_URL=http://influxdb.monitoring.svc.cluster.local:8086",
	)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "--test with the ConfigMap's config:\n%s", stderr.String())

	pids := map[string]bool{}
	var scans, alerts int
	for line := range strings.Lines(stdout.String()) {
		line = strings.TrimPrefix(line, "> ")
		name, _, _ := strings.Cut(line, ",")
		if !strings.HasPrefix(name, "procblocking") {
			continue
		}
		require.Contains(t, line, ",host=node-7.example", "the node's name tags everything: %s", line)
		switch name {
		case "procblocking":
			pids[regexp.MustCompile(`,pid=(\d+)`).FindStringSubmatch(line)[1]] = true
		case "procblocking_scan":
			scans++
			require.Contains(t, line, "ok=true")
		case "procblocking_alert":
			alerts++
		}
	}
	require.Equal(t, 1, scans, stdout.String())
	// python3 -m pytest (three of them) and pytest -x; not bash, not the
	// agent, not the init.
	require.Equal(t, map[string]bool{"100": true, "300": true, "600": true, "700": true}, pids, stdout.String())
	require.Positive(t, alerts, "an hour-old pytest is alerted:\n%s", stdout.String())
}

// TestConfigMapPatterns runs the ConfigMap's patterns (Go regexps, as the
// input compiles them) over command lines joined as the input joins them.
func TestConfigMapPatterns(t *testing.T) {
	_, _, cm, _ := readManifests(t)
	line := regexp.MustCompile(`(?m)^\s*patterns\s*=\s*\[(.*)\]\s*$`).FindStringSubmatch(cm.Data["telegraf.conf"])
	require.NotNil(t, line, "patterns = [...] on one line")
	require.Contains(t, cm.Data["telegraf.conf"], `pattern_type = "regex"`)
	var patterns []*regexp.Regexp
	for _, m := range regexp.MustCompile(`'([^']*)'`).FindAllStringSubmatch(line[1], -1) {
		patterns = append(patterns, regexp.MustCompile(m[1]))
	}
	require.NotEmpty(t, patterns)
	matches := func(cmdline string) bool {
		for _, p := range patterns {
			if p.MatchString(cmdline) {
				return true
			}
		}
		return false
	}
	for _, cmdline := range []string{
		"pytest",
		"pytest -x tests/",
		"/usr/local/bin/pytest tests/test_io.py",
		"py.test tests",
		"python -m pytest",
		"python3 -m pytest tests/test_io.py -x",
		"/usr/bin/python3.12 -u -m pytest -k slow",
		"python /opt/venv/bin/pytest tests",
		"python3 -X dev /usr/bin/py.test",
	} {
		require.True(t, matches(cmdline), "should match: %s", cmdline)
	}
	for _, cmdline := range []string{
		"grep pytest",
		"grep -r pytest .",
		"vim tests/test_pytest.py",
		"python3 test_pytest.py",
		"python3 -m pytest_benchmark compare",
		"less pytest.log",
		"bash -c cd repo && pytest",
		"/usr/bin/telegraf-procblocking --config /etc/telegraf/telegraf.conf",
	} {
		require.False(t, matches(cmdline), "should not match: %s", cmdline)
	}
}
