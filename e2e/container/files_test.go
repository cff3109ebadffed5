package container

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/deploytest"
)

// The running stack proves the settings (TestComposeStack); these checks
// read the files for what a run cannot show: the rules that keep them
// working under every engine and every deployment.

func TestComposeFile(t *testing.T) {
	cf := deploytest.ReadCompose(t, filepath.Join(repoRoot, "docker-compose.yml"))
	w := cf.Services["watchdog"]
	require.Equal(t, "host", w.Pid)
	require.True(t, w.ReadOnly, "read_only")
	require.Equal(t, []string{"ALL"}, w.CapDrop)
	require.Empty(t, w.CapAdd)
	require.False(t, w.Privileged)
	require.Contains(t, w.SecurityOpt, "no-new-privileges:true")
	uid, _, _ := strings.Cut(w.User, ":")
	n, err := strconv.Atoi(uid)
	require.NoError(t, err, "a numeric uid: a name means nothing in the image")
	require.Equal(t, 65532, n)

	// docker-compose 1.29 rejects `uts`; the host's identity comes from its
	// /etc/hostname instead (and `hostname:` would name every host alike).
	require.Empty(t, w.Uts)
	require.Empty(t, w.Hostname)
	require.Equal(t, "/host/etc", w.Environment["HOST_ETC"])
	src, ok := w.Mounted("/host/etc/hostname")
	require.True(t, ok)
	require.Equal(t, "/etc/hostname", src)
	require.Contains(t, w.Volumes, "/etc/hostname:/host/etc/hostname:ro")

	// The version goes into the image as a build argument from a variable.
	args, _ := w.Build["args"].(map[string]any)
	require.Regexp(t, `^\$\{PROCBLOCKING_VERSION(:-[^}]*)?\}$`, args["VERSION"])

	// Secrets come from variables without `:?`, so that `ps`, `logs` and
	// `down` work when they are not exported.
	for _, name := range []string{"TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID"} {
		require.Regexp(t, `^\$\{`+name+`(:-)?\}$`, w.Environment[name], name)
	}

	// Everything the watchdog keeps is on the named volume: the config it
	// mounts puts each state path under the volume's mount point.
	stateVolume, ok := w.Mounted("/var/lib/procblocking")
	require.True(t, ok, "no volume on the state directory")
	require.Contains(t, cf.Volumes, stateVolume, "the state volume must be a named volume")
	confSrc, ok := w.Mounted("/etc/telegraf/telegraf.conf")
	require.True(t, ok)
	conf, err := os.ReadFile(filepath.Join(repoRoot, confSrc))
	require.NoError(t, err)
	for _, key := range []string{"statefile", "state_file"} {
		require.Regexp(t, `(?m)^\s*`+key+`\s*=\s*"/var/lib/procblocking/`, string(conf), "%s: %s on the state volume", confSrc, key)
	}
	for _, p := range regexp.MustCompile(`"(/var/lib/[^"]*)"`).FindAllStringSubmatch(string(conf), -1) {
		require.True(t, strings.HasPrefix(p[1], "/var/lib/procblocking/"), "%s: %q is not on the state volume", confSrc, p[1])
	}

	require.Regexp(t, `^influxdb:1\.`, cf.Services["influxdb"].Image)
}

func TestComposeVariants(t *testing.T) {
	secrets := deploytest.ReadCompose(t, filepath.Join(repoRoot, "deploy/compose/secrets.yml"))
	w := secrets.Services["watchdog"]
	ref := w.Environment["TELEGRAM_BOT_TOKEN"]
	m := regexp.MustCompile(`^@\{(\w+):(\w+)\}$`).FindStringSubmatch(ref)
	require.NotNil(t, m, "the token variable holds a secret reference, not a token: %q", ref)
	require.Equal(t, []string{m[2]}, w.Secrets)
	require.Contains(t, secrets.Secrets, m[2])
	storeConf, ok := w.Mounted("/etc/telegraf/secretstore.conf")
	require.True(t, ok)
	base := deploytest.ReadCompose(t, filepath.Join(repoRoot, "docker-compose.yml")).Services["watchdog"].Command
	require.Equal(t, base, w.Command[:len(base)], "the variant keeps the base's command and adds to it")
	require.Contains(t, strings.Join(w.Command[len(base):], " "), "--config /etc/telegraf/secretstore.conf")
	store, err := os.ReadFile(filepath.Join(repoRoot, storeConf))
	require.NoError(t, err)
	require.Contains(t, string(store), "[[secretstores.docker]]")
	require.Contains(t, string(store), `id = "`+m[1]+`"`)

	hostProc := deploytest.ReadCompose(t, filepath.Join(repoRoot, "deploy/compose/host-proc.yml")).Services["watchdog"]
	src, ok := hostProc.Mounted(hostProc.Environment["HOST_PROC"])
	require.True(t, ok, "HOST_PROC names the mount of the host's /proc")
	require.Equal(t, "/proc", src)
	require.Contains(t, hostProc.Volumes, "/proc:/host/proc:ro")

	// docker-compose 1.29 accepts the files, alone and together.
	_, err = exec.LookPath("docker-compose")
	require.NoError(t, err, "docker-compose is not installed: run `make test-deps` as root")
	for _, files := range [][]string{
		{"docker-compose.yml"},
		{"docker-compose.yml", "deploy/compose/secrets.yml", "deploy/compose/host-proc.yml"},
	} {
		args := []string{"--project-directory", repoRoot}
		for _, f := range files {
			args = append(args, "--file", filepath.Join(repoRoot, f))
		}
		cmd := exec.Command("docker-compose", append(args, "config", "--quiet")...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix:///nonexistent")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "docker-compose config %v:\n%s", files, out)
	}
}

// TestDockerfilePinsGo: the build stage's golang image is a full release
// that satisfies go.mod's `go` line.
func TestDockerfilePinsGo(t *testing.T) {
	base, err := dockerfileBase(filepath.Join(repoRoot, "Dockerfile"))
	require.NoError(t, err)
	m := regexp.MustCompile(`^golang:(\d+)\.(\d+)\.(\d+)$`).FindStringSubmatch(base)
	require.NotNil(t, m, "FROM %s: pin a full release (golang:X.Y.Z)", base)
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	require.NoError(t, err)
	want := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)(?:\.(\d+))?$`).FindStringSubmatch(string(gomod))
	require.NotNil(t, want)
	for i := 1; i <= 3; i++ {
		have, _ := strconv.Atoi(m[i])
		need, _ := strconv.Atoi(want[i])
		if have != need {
			require.Greater(t, have, need, "%s is older than go.mod's go %s", base, want[0])
			break
		}
	}
}
