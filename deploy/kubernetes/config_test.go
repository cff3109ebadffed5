package kubernetes

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/inputs"
	_ "github.com/influxdata/telegraf/plugins/outputs/influxdb"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/proctest"
	"github.com/procblocking/procblocking/plugins/inputs/procblocking"
	_ "github.com/procblocking/procblocking/plugins/outputs/telegram"
	_ "github.com/procblocking/procblocking/plugins/processors/alertstate"
)

// TestConfigMapRunsInTheBinary runs the ConfigMap's Telegraf config, as the
// DaemonSet's environment fills it, through the real binary's `--test` over a
// fake proc tree: the config loads (an option the plugins do not know, or a
// bad value, stops it), the patterns catch the tree's pytest processes, and
// every metric and alert is tagged with the node's name.
func TestConfigMapRunsInTheBinary(t *testing.T) {
	_, _, cm, _ := readManifests(t)
	dir := t.TempDir()
	bin, err := proctest.Binary(filepath.Join("..", ".."), "telegraf-procblocking", "./cmd/telegraf-procblocking")
	require.NoError(t, err)

	// The state directory is the node's in a pod; here a temporary one, so
	// that the test writes nothing outside it whatever --test does.
	conf := strings.ReplaceAll(cm.Data["telegraf.conf"], "/var/lib/procblocking/", filepath.Join(dir, "state")+"/")
	confPath := filepath.Join(dir, "telegraf.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o600))

	procRoot, err := filepath.Abs("../../testdata/proc_basic")
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

// TestConfigMapPatterns: the ConfigMap watches exactly the input's default
// pattern (pytest however it is started, not `grep pytest`), which the
// input's own tests hold against the command lines it must and must not
// match.
func TestConfigMapPatterns(t *testing.T) {
	_, _, cm, _ := readManifests(t)
	for _, env := range []string{"NODE_NAME", "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "INFLUXDB_URL"} {
		t.Setenv(env, "x")
	}
	// Loading builds the outputs, and with them the disk buffer's directory:
	// a temporary one, not the machine's.
	conf := strings.ReplaceAll(cm.Data["telegraf.conf"], "/var/lib/procblocking/", t.TempDir()+"/")
	c := config.NewConfig()
	require.NoError(t, c.LoadConfigData([]byte(conf), "configmap.yaml"))
	require.Len(t, c.Inputs, 1)
	got, ok := c.Inputs[0].Input.(*procblocking.ProcBlocking)
	require.True(t, ok)
	def, ok := inputs.Inputs["procblocking"]().(*procblocking.ProcBlocking)
	require.True(t, ok)
	require.Empty(t, got.Patterns)
	require.Equal(t, def.Pattern, got.Pattern)
}
