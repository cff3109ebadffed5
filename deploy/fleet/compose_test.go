package fleet

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/deploytest"
)

// What a running stack would show needs a container engine (the single-host
// stack is run by e2e/container); these checks read docker-compose.yml for
// the rules that keep the fleet working, and docker-compose 1.29 checks the
// file as it would run it.

func TestComposeFleet(t *testing.T) {
	cf := deploytest.ReadCompose(t, "docker-compose.yml")

	// NATS with JetStream, its store on a named volume: a restart of NATS
	// keeps the stream and the alerter's durable consumer.
	n := cf.Services["nats"]
	require.Equal(t, "nats:2", n.Image)
	require.Contains(t, n.Command, "-js")
	i := slices.Index(n.Command, "-sd")
	require.GreaterOrEqual(t, i, 0, "the store directory is given")
	src, ok := n.Mounted(n.Command[i+1])
	require.True(t, ok, "the store directory is a volume")
	require.Contains(t, cf.Volumes, src)

	for name, conf := range map[string]string{"alerter": "alerter.conf", "node": "node.conf"} {
		s := cf.Services[name]
		require.Equal(t, []string{"--config", "/etc/telegraf/" + conf}, s.Command, name)
		src, ok := s.Mounted("/etc/telegraf/" + conf)
		require.True(t, ok, name)
		require.Equal(t, "./"+conf, src, "%s runs the shipped %s", name, conf)
		require.Contains(t, s.Volumes, src+":/etc/telegraf/"+conf+":ro")
		// Everything it keeps is on a named volume at the state directory
		// the config uses.
		state, ok := s.Mounted(s.Environment["PROCBLOCKING_STATE_DIR"])
		require.True(t, ok, "%s: PROCBLOCKING_STATE_DIR is a volume", name)
		require.Contains(t, cf.Volumes, state, name)
		require.True(t, s.ReadOnly, name)
		require.Equal(t, []string{"ALL"}, s.CapDrop, name)
		require.Contains(t, s.SecurityOpt, "no-new-privileges:true", name)
		require.Equal(t, "65532:65532", s.User, name)
		require.Equal(t, "procblocking/telegraf-procblocking:latest", s.Image, name)
		require.Equal(t, "../..", s.Build["context"], name)
	}

	a := cf.Services["alerter"]
	require.Equal(t, "nats://nats:4222", a.Environment["NATS_URL"])
	require.Contains(t, a.DependsOn, "nats")
	for _, v := range []string{"TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID"} {
		require.Equal(t, "${"+v+":-}", a.Environment[v], v)
	}
	require.Equal(t, "${TELEGRAM_API_URL:-https://api.telegram.org}", a.Environment["TELEGRAM_API_URL"])
	require.Empty(t, a.Pid, "the alerter reads no process")

	// The node: the host's processes, the host's name, and NATS_URL to
	// point a node elsewhere at the central NATS.
	node := cf.Services["node"]
	require.Equal(t, "host", node.Pid)
	require.Equal(t, "${NATS_URL:-nats://nats:4222}", node.Environment["NATS_URL"])
	require.Equal(t, "${NODE_NAME:-}", node.Environment["NODE_NAME"])
	require.Equal(t, "/host/etc", node.Environment["HOST_ETC"])
	require.Contains(t, node.Volumes, "/etc/hostname:/host/etc/hostname:ro")
	require.Empty(t, node.DependsOn, "a node elsewhere starts without the central services")
	require.NotContains(t, node.Environment, "TELEGRAM_BOT_TOKEN", "no node holds the bot's token")

	// docker-compose 1.29 accepts the file.
	_, err := exec.LookPath("docker-compose")
	require.NoError(t, err, "docker-compose is not installed: run `make test-deps` as root")
	dir, err := filepath.Abs(".")
	require.NoError(t, err)
	cmd := exec.Command("docker-compose", "--project-directory", dir, "--file", filepath.Join(dir, "docker-compose.yml"), "config", "--quiet")
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix:///nonexistent")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "docker-compose config:\n%s", out)
}
