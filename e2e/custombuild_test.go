package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

// stockConfig is an existing Telegraf's /etc/telegraf/telegraf.conf as a
// user would have it: system inputs, a processor, an aggregator and an output
// that telegraf-procblocking's default set lacks.
const stockConfig = `[agent]
  interval = "10s"
  hostname = "custom-build"

[[inputs.cpu]]
  percpu = false
  totalcpu = true
  ## Usage needs two gathers; --test makes one.
  collect_cpu_time = true

[[inputs.mem]]

[[inputs.system]]

[[inputs.procstat]]
  pattern = "%s"
  pid_finder = "native"

[[processors.rename]]
  [[processors.rename.replace]]
    measurement = "mem"
    dest = "memory"

[[aggregators.minmax]]
  namepass = ["system"]
  period = "30s"

[[outputs.file]]
  files = ["stdout"]
`

// makeBuild runs `make build` in the project's directory with the given
// variables and returns what it printed.
func makeBuild(t *testing.T, vars ...string) (string, error) {
	t.Helper()
	makeBin, err := exec.LookPath("make")
	require.NoError(t, err, "make builds the binary in CI too")
	cmd := exec.Command(makeBin, append([]string{"--no-print-directory", "build"}, vars...)...)
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// dropIn is the project's telegraf.d/procblocking.conf with its state under dir.
func dropIn(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "telegraf.d", "procblocking.conf"))
	require.NoError(t, err)
	require.Contains(t, string(data), "/var/lib/procblocking/")
	return strings.ReplaceAll(string(data), "/var/lib/procblocking/", dir+"/")
}

// The drop-in for an existing Telegraf: a binary built for its configuration
// runs the configuration unchanged with the project's drop-in beside it.
func TestCustomBuildRunsAStockConfig(t *testing.T) {
	t.Parallel()
	etc := t.TempDir()
	marker := newMarker("custombuild")
	conf := filepath.Join(etc, "telegraf.conf")
	confDir := filepath.Join(etc, "telegraf.d")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(stockConfig, marker)), 0o600))
	require.NoError(t, os.Mkdir(confDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(confDir, "procblocking.conf"), []byte(dropIn(t, t.TempDir())), 0o600))

	// Where the last run left it: make's go build relinks only what changed.
	binDir, err := proctest.BinaryDir("..", "custom-build")
	require.NoError(t, err)
	bin := filepath.Join(binDir, "telegraf-procblocking")
	out, err := makeBuild(t, "TELEGRAF_CONFIG="+conf+" "+confDir, "BIN="+bin)
	require.NoError(t, err, out)
	require.Contains(t, out, "custom,aggregators.minmax,inputs.cpu,inputs.mem,inputs.procstat,inputs.system,outputs.file,processors.rename,serializers.influx")

	// Something for procstat to find, living until the test ends it however
	// long the build took.
	watched := proctest.Start(t, []string{"ARGV0=" + marker}, "bash", "-c", `exec -a "$ARGV0" sleep infinity`)
	proctest.WaitFor(t, 60*time.Second, "the watched process's argv", func() bool { return argv0(watched.PID()) == marker })

	cmd := exec.Command(bin, "--config", conf, "--config-directory", confDir, "--test")
	cmd.Env = append(os.Environ(), "TELEGRAM_BOT_TOKEN=123456:custom-build-token", "TELEGRAM_CHAT_ID=-100123")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	t.Logf("--test output:\n%s", stdout.String())

	measurements := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		line = strings.TrimPrefix(line, "> ")
		name, _, _ := strings.Cut(line, ",")
		measurements[name] = append(measurements[name], line)
	}
	require.Contains(t, stderr.String(), "Loaded inputs: cpu mem procblocking procstat system")
	require.Contains(t, measurements, "cpu")
	require.Contains(t, measurements["cpu"][0], "time_user=")
	// processors.rename: mem is renamed, nothing is left under the old name.
	require.Contains(t, measurements, "memory")
	require.NotContains(t, measurements, "mem")
	require.Contains(t, measurements["memory"][0], "used_percent=")
	// aggregators.minmax adds the min and max of system's fields.
	require.Condition(t, func() bool {
		for _, l := range measurements["system"] {
			if strings.Contains(l, "load1_min=") && strings.Contains(l, "load1_max=") {
				return true
			}
		}
		return false
	}, "no aggregated system metric: %v", measurements["system"])
	require.Contains(t, measurements, "procstat")
	require.Contains(t, measurements["procstat"][0], "pattern="+marker)
	require.Contains(t, measurements["procstat"][0], fmt.Sprintf("pid=%d", watched.PID()))
	// The project's plugins from the drop-in, in the same agent.
	require.Contains(t, measurements, "procblocking_scan")
	require.Contains(t, measurements["procblocking_scan"][0], "ok=true")
	require.Contains(t, measurements["procblocking_scan"][0], "host=custom-build")
}

func TestCustomBuildUnknownPluginNamesItAndTheFile(t *testing.T) {
	t.Parallel()
	confDir := t.TempDir()
	bad := filepath.Join(confDir, "20-metrics.conf")
	require.NoError(t, os.WriteFile(filepath.Join(confDir, "10-cpu.conf"), []byte("[[inputs.cpu]]\n"), 0o600))
	require.NoError(t, os.WriteFile(bad, []byte("[[inputs.mem]]\n\n[[inputs.cpu_temperature]]\n"), 0o600))
	bin := filepath.Join(t.TempDir(), "telegraf-procblocking")

	out, err := makeBuild(t, "TELEGRAF_CONFIG="+confDir, "BIN="+bin)
	require.Error(t, err, out)
	require.Contains(t, out, bad+":3: unknown plugin [[inputs.cpu_temperature]]")
	require.NoFileExists(t, bin)
}

// argv0 is the first word of a process's command line, "" when unreadable.
func argv0(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	first, _, _ := bytes.Cut(b, []byte{0})
	return string(first)
}
