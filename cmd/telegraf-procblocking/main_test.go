package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/models"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/proctest"
	"github.com/procblocking/procblocking/plugins/inputs/telegram_actions"
)

// binPath is the binary built once for the tests that run it as a process.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "telegraf-procblocking-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The binaries the tests start keep the embedded default's state here,
	// not in the machine's /var/lib/procblocking.
	if err := os.Setenv(stateDirEnv, filepath.Join(dir, "state")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if binPath, err = proctest.Binary(".", "telegraf-procblocking", "-ldflags", "-X main.version=v0.0.0-test", "."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startBinary runs the binary under test; the cleanup kills it by PID if the
// test did not end it.
func startBinary(t *testing.T, env []string, args ...string) *proctest.Proc {
	t.Helper()
	return proctest.Start(t, env, binPath, args...)
}

func repoFile(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join("..", "..", name)
	_, err := os.Stat(path)
	require.NoError(t, err)
	return path
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(binPath, "--version").CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, "telegraf-procblocking v0.0.0-test (Telegraf v1.39.3)\n", string(out))
}

func TestSampleConfig(t *testing.T) {
	out, err := exec.Command(binPath, "--sample-config").Output()
	require.NoError(t, err)
	for _, table := range []string{
		"[[inputs.procblocking]]", "[[processors.alertstate]]", "[[outputs.telegram]]",
		"[[outputs.influxdb]]", "[[outputs.influxdb_v2]]", "[[outputs.file]]", "[[outputs.http]]", "[[outputs.discard]]",
		"[[aggregators.minmax]]", "[[aggregators.merge]]",
	} {
		require.Contains(t, string(out), table)
	}
	// Nothing beyond what plugins.go imports: no `all` import slipped in.
	require.NotContains(t, string(out), "[[inputs.cpu]]")
}

// stateDirEnv is the directory alertstate's default state file lies in.
const stateDirEnv = "PROCBLOCKING_STATE_DIR"

func TestEmbeddedDefaultConfigParses(t *testing.T) {
	stateDir := t.TempDir()
	t.Setenv(stateDirEnv, stateDir)
	c := config.NewConfig()
	require.NoError(t, c.LoadConfigData(defaultConfig, defaultConfigName))
	require.Equal(t, []string{"procblocking"}, c.InputNames())
	require.Equal(t, []string{"alertstate"}, c.ProcessorNames())
	require.Equal(t, []string{"file"}, c.OutputNames())
	// The alert state survives restarts and reloads in the state directory.
	as := alertStates(c)
	require.Len(t, as, 1)
	require.Equal(t, filepath.Join(stateDir, "alertstate.json"), as[0].plugin.StateFile)
	require.Equal(t, "[[processors.alertstate]] at "+defaultConfigName+":22", as[0].table)
}

// The embedded default keeps its alert state in $PROCBLOCKING_STATE_DIR and
// says where on start-up.
func TestEmbeddedDefaultUsesStateDir(t *testing.T) {
	dir := t.TempDir()
	p := startBinary(t, []string{stateDirEnv + "=" + dir})
	// alertstate says where at its Init, once the agent has started.
	want := fmt.Sprintf("Keeping the alert state in %q", filepath.Join(dir, "alertstate.json"))
	proctest.WaitFor(t, 30*time.Second, want, func() bool {
		require.False(t, p.Exited(), "%v\n%s", p.Err(), p.Stderr.String())
		return strings.Contains(p.Stderr.String(), want)
	})
	require.NoError(t, p.Cmd.Process.Signal(os.Interrupt))
	require.NoError(t, p.Wait(t, 30*time.Second), p.Stderr.String())
}

// loadShipped loads a shipped config with its state directory moved to a
// temp dir: its disk buffer opens while it loads.
func loadShipped(t *testing.T, name string) (c *config.Config, stateDir string) {
	t.Helper()
	data, err := os.ReadFile(repoFile(t, name))
	require.NoError(t, err)
	stateDir = t.TempDir()
	data = bytes.ReplaceAll(data, []byte("/var/lib/procblocking"), []byte(stateDir))
	c = config.NewConfig()
	require.NoError(t, c.LoadConfigData(data, name))
	t.Cleanup(func() {
		for _, o := range c.Outputs {
			o.Close()
		}
	})
	return c, stateDir
}

func outputNamed(t *testing.T, c *config.Config, name string) *models.RunningOutput {
	t.Helper()
	for _, o := range c.Outputs {
		if o.Config.Name == name {
			return o
		}
	}
	require.FailNow(t, "no output "+name)
	return nil
}

func TestExampleConfigsParse(t *testing.T) {
	t.Setenv("TELEGRAM_BOT_TOKEN", "123:example")
	t.Setenv("TELEGRAM_CHAT_ID", "-1001")
	t.Setenv("INFLUXDB_URL", "http://127.0.0.1:8086")

	t.Run("telegraf.conf.example", func(t *testing.T) {
		c, stateDir := loadShipped(t, "telegraf.conf.example")
		require.Equal(t, []string{"procblocking"}, c.InputNames())
		require.Equal(t, []string{"alertstate"}, c.ProcessorNames())
		require.ElementsMatch(t, []string{"telegram", "influxdb"}, c.OutputNames())
		require.Equal(t, config.Duration(30*time.Second), c.Agent.Interval)
		// Everything it keeps is under the one state directory.
		require.Equal(t, filepath.Join(stateDir, "telegraf.state"), c.Agent.Statefile)
		require.NotNil(t, c.Persister)
		require.Equal(t, filepath.Join(stateDir, "alertstate.json"), alertStates(c)[0].plugin.StateFile)
		// Undelivered events survive a crash: the disk buffer, on the state volume.
		require.Equal(t, "disk", c.Agent.BufferStrategy)
		require.Equal(t, filepath.Join(stateDir, "buffer"), c.Agent.BufferDirectory)
		// Telegram flushes on its own short interval, not the agent's.
		require.Equal(t, time.Second, outputNamed(t, c, "telegram").Config.FlushInterval)
	})
	t.Run("telegraf.d/procblocking.conf", func(t *testing.T) {
		c, stateDir := loadShipped(t, "telegraf.d/procblocking.conf")
		require.Equal(t, []string{"procblocking"}, c.InputNames())
		require.Equal(t, []string{"alertstate"}, c.ProcessorNames())
		require.Equal(t, []string{"telegram"}, c.OutputNames())
		require.Equal(t, filepath.Join(stateDir, "alertstate.json"), alertStates(c)[0].plugin.StateFile)
		require.Equal(t, time.Second, outputNamed(t, c, "telegram").Config.FlushInterval)
		// A drop-in leaves [agent] to the directory's main file, and says
		// what to add there for the disk buffer.
		data, err := os.ReadFile(repoFile(t, "telegraf.d/procblocking.conf"))
		require.NoError(t, err)
		require.NotRegexp(t, `(?m)^\s*\[agent\]`, string(data))
		require.Contains(t, string(data), `#   buffer_strategy = "disk"`)
		require.Contains(t, string(data), `#   buffer_directory = "/var/lib/procblocking/buffer"`)
	})
}

func TestStartsOnEmbeddedDefaultAndStopsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			p := startBinary(t, nil)
			proctest.WaitFor(t, 30*time.Second, "the start-up line naming the config", func() bool {
				return strings.Contains(p.Stderr.String(), "Running config: embedded default.conf")
			})
			proctest.WaitFor(t, 30*time.Second, "the agent to run", func() bool {
				return strings.Contains(p.Stderr.String(), "Loaded outputs: file")
			})
			require.NoError(t, p.Cmd.Process.Signal(sig))
			require.NoError(t, p.Wait(t, 30*time.Second), p.Stderr.String())
		})
	}
}

func TestBadConfigExitsNonZeroNamingFileLineAndOption(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		conf string
		want []string
	}{
		{
			name: "unknown option",
			conf: "[agent]\n  interval = \"1s\"\n\n[[inputs.procblocking]]\n  patterns = [\"pytest\"]\n  no_such_option = 1\n\n[[outputs.discard]]\n",
			want: []string{"bad.conf", "line 4", "no_such_option"},
		},
		{
			name: "invalid value",
			conf: "[agent]\n  interval = \"1s\"\n\n[[inputs.procblocking]]\n  patterns = [\"pytest\"]\n  pattern_type = \"glob\"\n\n[[outputs.discard]]\n",
			want: []string{"bad.conf:4", "pattern_type", "glob"},
		},
		{
			name: "toml syntax",
			conf: "[agent]\n  interval = \n",
			want: []string{"bad.conf", "line 3", "invalid TOML syntax"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "bad.conf")
			require.NoError(t, os.WriteFile(path, []byte(tt.conf), 0o600))
			out, err := exec.Command(binPath, "--config", path).CombinedOutput()
			var exitErr *exec.ExitError
			require.ErrorAs(t, err, &exitErr, string(out))
			require.NotEqual(t, 0, exitErr.ExitCode())
			for _, w := range tt.want {
				require.Contains(t, string(out), w)
			}
		})
	}
}

func TestConfigDirectoryAndRepeatedConfig(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "agent.conf"),
		[]byte("[agent]\n  interval = \"1s\"\n  omit_hostname = true\n"), 0o600))
	confDir := filepath.Join(dir, "telegraf.d")
	require.NoError(t, os.Mkdir(confDir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(confDir, "in.conf"),
		[]byte("[[inputs.procblocking]]\n  patterns = [\"no-process-has-this-e2e-marker-0x5eed\"]\n"), 0o600))

	out, err := exec.Command(binPath, "--config", filepath.Join(dir, "agent.conf"),
		"--config-directory", confDir, "--test").Output()
	require.NoError(t, err)
	// Nothing matches, so the scan summary is the only metric.
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 1, string(out))
	// --test prefixes each metric with "> ".
	require.True(t, strings.HasPrefix(lines[0], "> procblocking_scan "), lines[0])
	require.Contains(t, lines[0], "ok=true")
}

func TestTestModePrintsMatchingProcess(t *testing.T) {
	marker := fmt.Sprintf("pytest-cmd-test-%d", os.Getpid())
	// The name goes through the environment so that only the exec'd process,
	// not the shell before it, carries the marker.
	child := exec.Command("bash", "-c", `exec -a "$ARGV0" sleep 300`)
	child.Env = append(os.Environ(), "ARGV0=python3 -m pytest "+marker)
	require.NoError(t, child.Start())
	pid := child.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_ = child.Wait()
	})
	proctest.WaitFor(t, 10*time.Second, "the child's argv", func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		return err == nil && bytes.HasPrefix(b, []byte("python3 -m pytest "+marker))
	})

	conf := filepath.Join(t.TempDir(), "test.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(
		"[agent]\n  omit_hostname = true\n[[inputs.procblocking]]\n  patterns = [%q]\n", marker)), 0o600))
	out, err := exec.Command(binPath, "--config", conf, "--test").Output()
	require.NoError(t, err)
	require.Contains(t, string(out), fmt.Sprintf("> procblocking,pattern=%s,pid=%d ", marker, pid))
	require.Contains(t, string(out), "procblocking_scan ")
}

func TestSighupReloadsConfiguration(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "reload.conf")
	write := func(pattern string) {
		require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(
			"[agent]\n  interval = \"1s\"\n  flush_interval = \"1s\"\n  omit_hostname = true\n"+
				"[[inputs.procblocking]]\n  patterns = [%q]\n"+
				"[[outputs.file]]\n  files = [\"stdout\"]\n  data_format = \"influx\"\n  namepass = [\"procblocking_scan\"]\n", pattern)), 0o600))
	}
	write("first-pattern-0x1")
	p := startBinary(t, nil, "--config", conf)
	proctest.WaitFor(t, 30*time.Second, "a scan on stdout", func() bool { return strings.Contains(p.Stdout.String(), "procblocking_scan") })

	// Break the config: a reload must read the file again, not reuse the old one.
	require.NoError(t, os.WriteFile(conf, []byte("[[inputs.procblocking]]\n  patterns = []\n[[outputs.discard]]\n"), 0o600))
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGHUP))
	err := p.Wait(t, 30*time.Second)
	require.Error(t, err, "a reload onto an invalid config must stop the agent")
	require.Contains(t, p.Stderr.String(), "Reloading configuration on SIGHUP")
	require.Contains(t, p.Stderr.String(), "patterns")

	// A valid reload keeps running with the new configuration.
	write("second-pattern-0x2")
	p = startBinary(t, nil, "--config", conf)
	proctest.WaitFor(t, 30*time.Second, "the first start", func() bool { return strings.Count(p.Stderr.String(), "Running config:") == 1 })
	write("third-pattern-0x3")
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGHUP))
	proctest.WaitFor(t, 30*time.Second, "the second start", func() bool { return strings.Count(p.Stderr.String(), "Running config:") == 2 })
	seen := len(p.Stdout.String())
	proctest.WaitFor(t, 30*time.Second, "a scan after the reload", func() bool {
		return strings.Contains(p.Stdout.String()[seen:], "procblocking_scan")
	})
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, p.Wait(t, 30*time.Second), p.Stderr.String())
}

func TestSigtermWritesTelegrafStatefile(t *testing.T) {
	dir := t.TempDir()
	statefile := filepath.Join(dir, "telegraf.state")
	conf := filepath.Join(dir, "state.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(
		"[agent]\n  interval = \"1s\"\n  flush_interval = \"1s\"\n  omit_hostname = true\n  statefile = %q\n"+
			"[[inputs.procblocking]]\n  patterns = [\"no-process-has-this-marker-0x7\"]\n"+
			"[[processors.alertstate]]\n  threshold = \"1h\"\n  cooldown = \"1h\"\n"+
			"[[outputs.discard]]\n", statefile)), 0o600))
	p := startBinary(t, nil, "--config", conf)
	proctest.WaitFor(t, 30*time.Second, "the agent to run", func() bool {
		return strings.Contains(p.Stderr.String(), "Loaded outputs: discard")
	})
	_, err := os.Stat(statefile)
	require.ErrorIs(t, err, os.ErrNotExist, "Telegraf writes its statefile only on a clean stop")
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, p.Wait(t, 30*time.Second), p.Stderr.String())
	data, err := os.ReadFile(statefile)
	require.NoError(t, err)
	require.NotEmpty(t, data)
}

// A test run must not take the bot's updates from the running agent.
func TestTestRunDoesNotPollTheBot(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "chat.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf("[agent]\n  omit_hostname = true\n"+
		"[[inputs.telegram_actions]]\n  token = \"1:x\"\n  chat_id = \"-1\"\n  allowed_users = [1]\n  api_url = \"http://127.0.0.1:9\"\n  offset_file = %q\n",
		filepath.Join(dir, "offset.json"))), 0o600))
	l, err := loadConfig(&options{configs: stringList{conf}, test: true})
	require.NoError(t, err)
	defer l.release()
	require.Contains(t, strings.Join(l.notices, "\n"), "inputs.telegram_actions does not poll the bot in a test run")
	ta := l.config.Inputs[0].Input.(*telegram_actions.TelegramActions)
	require.True(t, ta.TestRun)

	l, err = loadConfig(&options{configs: stringList{conf}})
	require.NoError(t, err)
	defer l.release()
	require.False(t, l.config.Inputs[0].Input.(*telegram_actions.TelegramActions).TestRun)
}
