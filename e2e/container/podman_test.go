package container

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newPodman prepares a podman of the test's own and starts its API service
// (what compose talks to). It runs containers with runc and fixed rlimits:
// Debian's default crun cannot set RLIMIT_NOFILE or use hybrid cgroups on
// machines like CI's. It fails, never skips, when podman is missing or does
// not work: `make test` installs it first.
func newPodman(logf func(string, ...any)) (*engine, error) {
	for _, tool := range []string{"podman", "runc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is not installed: run `make test-deps` as root (scripts/install-container-engine.sh installs podman and runc from Debian's packages): %w", tool, err)
		}
	}
	dir, err := os.MkdirTemp("", "procblocking-podman-")
	if err != nil {
		return nil, err
	}
	e := &engine{name: "podman", client: "podman", dir: dir, socket: filepath.Join(dir, "podman.sock")}
	for _, sub := range []string{"tmp", "networks", "libpod"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return e, err
		}
	}
	containersConf := fmt.Sprintf(`[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
runtime = "runc"
tmp_dir = %q
events_logger = "file"

[network]
network_config_dir = %q
`, filepath.Join(dir, "libpod"), filepath.Join(dir, "networks"))
	storageConf := fmt.Sprintf(`[storage]
driver = "overlay"
graphroot = %q
runroot = %q
`, filepath.Join(dir, "storage"), filepath.Join(dir, "run"))
	if err := os.WriteFile(filepath.Join(dir, "containers.conf"), []byte(containersConf), 0o600); err != nil {
		return e, err
	}
	if err := os.WriteFile(filepath.Join(dir, "storage.conf"), []byte(storageConf), 0o600); err != nil {
		return e, err
	}
	e.env = append(baseEnv(),
		"CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"),
		"TMPDIR="+filepath.Join(dir, "tmp"),
		"DOCKER_HOST=unix://"+e.socket,
	)

	out, err := e.cli("info", "--format", "{{.Host.OCIRuntime.Name}} {{.Store.GraphDriverName}} {{.Version.Version}}")
	if err != nil {
		return e, fmt.Errorf("podman does not work here: %w\n%s", err, out)
	}
	runtime, rest, _ := strings.Cut(strings.TrimSpace(out), " ")
	driver, version, _ := strings.Cut(rest, " ")
	if runtime != "runc" || driver != "overlay" {
		return e, fmt.Errorf("podman info says %q, want runtime runc and overlay storage", out)
	}
	e.release = "podman " + version

	start := time.Now()
	service := exec.Command("podman", "system", "service", "--time=0", "unix://"+e.socket)
	service.Env = e.env
	d, err := startDaemon("podman system service", service, filepath.Join(dir, "service.log"), func() error {
		_, err := e.api(http.MethodGet, "/_ping", nil)
		return err
	})
	e.shutdown = func(logf func(string, ...any)) { e.shutdownPodman(d, logf) }
	if err != nil {
		return e, err
	}
	logf("podman API service up in %s", time.Since(start).Round(time.Millisecond))
	return e, nil
}

// shutdownPodman stops the API service, then removes containers, pods,
// images, volumes, secrets and networks with the CLI (which works without
// the service).
func (e *engine) shutdownPodman(service *daemon, logf func(string, ...any)) {
	service.stop(20 * time.Second)
	steps := [][]string{
		{"pod", "rm", "--all", "--force", "--time", "0"},
		{"rm", "--all", "--force", "--time", "0"},
		{"volume", "rm", "--all", "--force"},
		{"secret", "rm", "--all"},
	}
	for _, n := range e.networks {
		steps = append(steps, []string{"network", "rm", "--force", n})
	}
	steps = append(steps, []string{"rmi", "--all", "--force"}, []string{"system", "reset", "--force"})
	for _, args := range steps {
		if out, err := e.cli(args...); err != nil && !strings.Contains(out, "no such") {
			logf("cleanup: podman %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out))
		}
	}
}

// removePodmanObject removes a podman container or pod ("container",
// "pod") at once, asking again while it is still there: under load podman
// 4.3 can fail a removal that it completes when asked again, and what is
// left holds the test's network. It fails the test with the last answer when
// the object is still there after 60s.
func (e *engine) removePodmanObject(t *testing.T, kind, name string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := e.cli(kind, "rm", "--force", "--time", "0", name)
		// exists: exit status 1 when there is no such object.
		_, gone := e.cli(kind, "exists", name)
		var exit *exec.ExitError
		if errors.As(gone, &exit) && exit.ExitCode() == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("removing %s %s: %v: %s", kind, name, err, out)
			return
		}
		time.Sleep(time.Second)
	}
}
