package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// No docker engine runs where the tests run, so the deployment files are
// checked by reading them: each hardening property the README promises.

type composeFile struct {
	Services map[string]struct {
		Build       any               `yaml:"build"`
		Image       string            `yaml:"image"`
		Pid         string            `yaml:"pid"`
		ReadOnly    bool              `yaml:"read_only"`
		CapDrop     []string          `yaml:"cap_drop"`
		CapAdd      []string          `yaml:"cap_add"`
		Privileged  bool              `yaml:"privileged"`
		SecurityOpt []string          `yaml:"security_opt"`
		User        string            `yaml:"user"`
		Environment map[string]string `yaml:"environment"`
		Secrets     []any             `yaml:"secrets"`
		Volumes     []string          `yaml:"volumes"`
		Command     []string          `yaml:"command"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func TestComposeFile(t *testing.T) {
	data, err := os.ReadFile(repoFile(t, "docker-compose.yml"))
	require.NoError(t, err)
	var cf composeFile
	require.NoError(t, yaml.Unmarshal(data, &cf))

	w, ok := cf.Services["watchdog"]
	require.True(t, ok, "service 'watchdog' missing")
	require.Equal(t, "host", w.Pid)
	require.True(t, w.ReadOnly, "read_only")
	require.Equal(t, []string{"ALL"}, w.CapDrop)
	require.Empty(t, w.CapAdd)
	require.False(t, w.Privileged)
	require.Contains(t, w.SecurityOpt, "no-new-privileges:true")

	uid, _, _ := strings.Cut(w.User, ":")
	n, err := strconv.Atoi(uid)
	require.NoError(t, err, "user must be a numeric uid: a name resolves to nothing in a distroless image")
	require.NotZero(t, n, "the watchdog must not run as root")

	// State goes to a named volume (the root filesystem is read-only).
	var stateVolume string
	for _, v := range w.Volumes {
		src, dst, _ := strings.Cut(v, ":")
		if strings.HasPrefix(dst, "/var/lib/procblocking") {
			stateVolume = src
		}
	}
	require.NotEmpty(t, stateVolume, "no volume mounted on the state directory")
	require.Contains(t, cf.Volumes, stateVolume, "the state volume must be a named volume")

	// The token comes from the environment or a docker secret, never literally.
	token, fromEnv := w.Environment["TELEGRAM_BOT_TOKEN"]
	if fromEnv {
		require.Regexp(t, `^\$\{TELEGRAM_BOT_TOKEN(:?[?-].*)?\}$`, token)
	} else {
		require.NotEmpty(t, w.Secrets, "the token must come from the environment or a docker secret")
	}

	// The config it mounts must keep the state where the volume is.
	for _, v := range w.Volumes {
		src, dst, _ := strings.Cut(v, ":")
		if strings.HasPrefix(dst, "/etc/telegraf/") {
			conf, err := os.ReadFile(repoFile(t, strings.TrimPrefix(src, "./")))
			require.NoError(t, err)
			require.Contains(t, string(conf), `state_file = "/var/lib/procblocking/`)
		}
	}

	influx, ok := cf.Services["influxdb"]
	require.True(t, ok, "service 'influxdb' missing")
	require.Regexp(t, `^influxdb:1\.`, influx.Image)
}

func TestDockerfileFinalStageRunsNonRoot(t *testing.T) {
	data, err := os.ReadFile(repoFile(t, "Dockerfile"))
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")

	from := regexp.MustCompile(`(?i)^FROM\s+(\S+)`)
	var stages []string
	last := -1
	for i, line := range lines {
		if m := from.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			stages = append(stages, m[1])
			last = i
		}
	}
	require.GreaterOrEqual(t, len(stages), 2, "multi-stage build expected")
	require.True(t, strings.HasPrefix(stages[0], "golang:1.26"), stages[0])
	require.Contains(t, string(data), "CGO_ENABLED=0")

	var user string
	for _, line := range lines[last:] {
		fields := strings.Fields(line)
		if len(fields) >= 2 && strings.EqualFold(fields[0], "USER") {
			user = fields[1]
		}
	}
	require.NotEmpty(t, user, "the final stage has no USER")
	uid, _, _ := strings.Cut(user, ":")
	require.NotContains(t, []string{"0", "root"}, uid)
	_, err = strconv.Atoi(uid)
	require.NoError(t, err, "USER should be numeric so the runtime can check it is non-root")
}
