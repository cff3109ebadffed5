package fleet

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// composeV2 is the Compose v2 binary scripts/install-compose-v2.sh builds
// (`make test-deps`): the `docker compose` of current Docker releases.
func composeV2(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("bash", filepath.Join("..", "..", "scripts", "install-compose-v2.sh"), "--print-path").Output()
	require.NoError(t, err, "scripts/install-compose-v2.sh --print-path")
	path := strings.TrimSpace(string(out))
	_, err = os.Stat(path)
	require.NoError(t, err, "Compose v2 is not installed: run `make test-deps` (scripts/install-compose-v2.sh builds it)")
	return path
}

// Compose v2 accepts the fleet file too, and resolves it as the README
// says: the alerter reaches this host's NATS, a node started elsewhere with
// NATS_URL the central one, and the bot's settings reach the alerter only.
func TestComposeFleetV2(t *testing.T) {
	bin := composeV2(t)
	dir, err := filepath.Abs(".")
	require.NoError(t, err)
	config := func(env ...string) map[string]any {
		cmd := exec.Command(bin, "--project-directory", dir, "--file", filepath.Join(dir, "docker-compose.yml"), "config", "--format", "json")
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix:///nonexistent")
		for _, k := range []string{"NATS_URL", "NODE_NAME", "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "TELEGRAM_API_URL", "NATS_PORT"} {
			cmd.Env = append(cmd.Env, k+"=")
		}
		cmd.Env = append(cmd.Env, env...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.NoError(t, err, "Compose v2 config:\n%s", stderr.String())
		var cf map[string]any
		require.NoError(t, json.Unmarshal(out, &cf))
		return cf
	}
	envOf := func(cf map[string]any, service string) map[string]any {
		s, ok := cf["services"].(map[string]any)[service].(map[string]any)
		require.True(t, ok, service)
		env, _ := s["environment"].(map[string]any)
		return env
	}

	cf := config()
	require.Equal(t, "nats://nats:4222", envOf(cf, "alerter")["NATS_URL"])
	require.Equal(t, "nats://nats:4222", envOf(cf, "node")["NATS_URL"])
	require.Equal(t, "https://api.telegram.org", envOf(cf, "alerter")["TELEGRAM_API_URL"])
	nats := cf["services"].(map[string]any)["nats"].(map[string]any)
	require.Equal(t, []any{"-js", "-sd", "/data"}, nats["command"])

	cf = config("NATS_URL=nats://central.example:4222", "NODE_NAME=runner-7", "TELEGRAM_BOT_TOKEN=123:abc", "TELEGRAM_CHAT_ID=-100123")
	require.Equal(t, "nats://central.example:4222", envOf(cf, "node")["NATS_URL"])
	require.Equal(t, "runner-7", envOf(cf, "node")["NODE_NAME"])
	require.Equal(t, "nats://nats:4222", envOf(cf, "alerter")["NATS_URL"], "the alerter stays on this host's NATS")
	require.Equal(t, "123:abc", envOf(cf, "alerter")["TELEGRAM_BOT_TOKEN"])
	require.NotContains(t, envOf(cf, "node"), "TELEGRAM_BOT_TOKEN")
}
