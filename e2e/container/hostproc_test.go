package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// TestHostProcVariant runs the image as docker-compose.yml does but in its
// own PID namespace, as podman-compose runs it (it drops `pid: host`): blind
// to the host's processes without deploy/compose/host-proc.yml, seeing the
// job with it.
func TestHostProcVariant(t *testing.T) {
	t.Parallel()
	s := env(t)
	j := s.startJob(t, marker(t))

	var variant struct {
		Services struct {
			Watchdog struct {
				Environment map[string]string `yaml:"environment"`
				Volumes     []string          `yaml:"volumes"`
			} `yaml:"watchdog"`
		} `yaml:"services"`
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, "deploy/compose/host-proc.yml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &variant))
	require.NotEmpty(t, variant.Services.Watchdog.Environment["HOST_PROC"])
	require.NotEmpty(t, variant.Services.Watchdog.Volumes)

	conf := filepath.Join(t.TempDir(), "telegraf.conf")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, `[[inputs.procblocking]]
  patterns = [%q]

[[outputs.discard]]
`, j.pattern), 0o644))
	// docker-compose.yml's security settings, without pid: host.
	base := []string{"run", "--rm", "--network", "none", "--read-only", "--cap-drop", "ALL",
		"--security-opt", "no-new-privileges", "--user", "65532:65532",
		"--volume", conf + ":/etc/telegraf/telegraf.conf:ro"}
	testArgs := []string{s.image, "--config", "/etc/telegraf/telegraf.conf", "--test"}

	out, err := s.cli(append(base, testArgs...)...)
	require.NoError(t, err, out)
	require.NotContains(t, out, fmt.Sprintf(",pid=%d ", j.pid), "its own PID namespace hides the host's processes")

	withVariant := append([]string(nil), base...)
	for k, v := range variant.Services.Watchdog.Environment {
		withVariant = append(withVariant, "--env", k+"="+v)
	}
	for _, v := range variant.Services.Watchdog.Volumes {
		withVariant = append(withVariant, "--volume", v)
	}
	out, err = s.cli(append(withVariant, testArgs...)...)
	require.NoError(t, err, out)
	var line string
	for l := range strings.Lines(out) {
		l = strings.TrimPrefix(l, "> ") // --test marks each metric so
		if strings.HasPrefix(l, "procblocking,") && strings.Contains(l, fmt.Sprintf(",pid=%d ", j.pid)) {
			line = l
		}
	}
	require.NotEmpty(t, line, "the job seen through HOST_PROC:\n%s", out)
	require.Contains(t, line, fmt.Sprintf("container_id=%q", j.containerID))
	require.Contains(t, line, "orphan=true")
}
