// Package container runs the project's image and compose stack under a real
// container engine (podman, driven by docker-compose through podman's API),
// and the Kubernetes DaemonSet's pod under `podman kube play`.
package container

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// repoRoot is the project's directory, where the Dockerfile and compose file
// are.
const repoRoot = "../.."

// imageName is the image docker-compose.yml builds and runs.
const imageName = "procblocking/telegraf-procblocking:latest"

// testEnv is what every test here shares: one engine, the stand-in base
// images, and the project's image built once from the project's Dockerfile.
type testEnv struct {
	*engine
	version string // what the image was built with: `make`'s VERSION
}

var (
	sharedOnce sync.Once
	shared     *testEnv
	sharedErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.close(func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, format+"\n", args...)
		})
	}
	os.Exit(code)
}

// env returns the shared environment, making it on first use. A machine
// where it cannot be made fails the test with the reason.
func env(t *testing.T) *testEnv {
	t.Helper()
	sharedOnce.Do(func() {
		start := time.Now()
		logf := func(format string, args ...any) {
			t.Logf("[%6.1fs] "+format, append([]any{time.Since(start).Seconds()}, args...)...)
		}
		var e *engine
		e, sharedErr = newEngine(logf)
		shared = &testEnv{engine: e}
		if sharedErr != nil {
			return
		}
		sharedErr = shared.prepare(logf)
	})
	require.NoError(t, sharedErr, "setting up the container engine")
	return shared
}

// prepare stands in the base images and builds the project's image with
// docker-compose from docker-compose.yml and the Dockerfile.
func (s *testEnv) prepare(logf func(string, ...any)) error {
	golangImage, err := dockerfileBase(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		return err
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return err
	}
	gorootVersion, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "VERSION"))
	if err != nil {
		return err
	}
	hostGo, _, _ := strings.Cut(string(gorootVersion), "\n")
	if _, tag, _ := strings.Cut(golangImage, ":"); "go"+tag != hostGo {
		return fmt.Errorf("the Dockerfile builds on %s but this machine's toolchain is %s: the stand-in would carry another Go than its name says", golangImage, hostGo)
	}
	if err := s.standInGolang(golangImage, strings.TrimSpace(string(goroot))); err != nil {
		return err
	}
	logf("stood in %s (this machine's %s)", golangImage, hostGo)

	influxImage, err := composeImage(filepath.Join(repoRoot, "docker-compose.yml"), "influxdb")
	if err != nil {
		return err
	}
	if err := s.standInInfluxDB(influxImage); err != nil {
		return err
	}
	logf("stood in %s (Debian's influxd)", influxImage)

	// The Dockerfile's cache mounts are the host's warm Go caches: buildah
	// keeps a cache mount with an id at $TMPDIR/buildah-cache/<id>.
	cacheDir := filepath.Join(s.dir, "tmp", "buildah-cache")
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return err
	}
	for id, goenv := range map[string]string{"procblocking-gomod": "GOMODCACHE", "procblocking-gocache": "GOCACHE"} {
		out, err := exec.Command("go", "env", goenv).Output()
		if err != nil {
			return err
		}
		if err := os.Symlink(strings.TrimSpace(string(out)), filepath.Join(cacheDir, id)); err != nil {
			return err
		}
	}

	s.version = projectVersion()
	override := filepath.Join(s.dir, "build.yml")
	// Host networking for the build's RUN lines: the module proxy stays
	// reachable on a cold cache, and no bridge is made that another run
	// could collide with.
	if err := os.WriteFile(override, []byte("services:\n  watchdog:\n    build:\n      network: host\n"), 0o600); err != nil {
		return err
	}
	build := time.Now()
	out, err := s.compose("procblocking-build", []string{override}, []string{"PROCBLOCKING_VERSION=" + s.version}, "build", "watchdog")
	if err != nil {
		return fmt.Errorf("docker-compose build: %w\n%s", err, out)
	}
	logf("built %s (version %s) with docker-compose in %s", imageName, s.version, time.Since(build).Round(100*time.Millisecond))
	return nil
}

// network makes a network for the test, removed when the test ends (after
// the containers on it: cleanups run last-registered first).
func (s *testEnv) network(t *testing.T) *testNetwork {
	t.Helper()
	n, err := s.createNetwork()
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := s.removeNetwork(n); err != nil {
			t.Error(err)
		}
	})
	return n
}

// compose runs docker-compose on the project's docker-compose.yml plus the
// given override files, as project, with extra environment variables.
func (s *testEnv) compose(project string, overrides, extraEnv []string, args ...string) (string, error) {
	full := []string{"--project-name", project, "--project-directory", repoRoot, "--file", filepath.Join(repoRoot, "docker-compose.yml")}
	for _, o := range overrides {
		full = append(full, "--file", o)
	}
	full = append(full, args...)
	cmd := exec.Command("docker-compose", full...)
	cmd.Env = append(append([]string(nil), s.env...), extraEnv...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// projectVersion is the version `make` builds with (the Makefile's VERSION):
// the git description, or a stand-in when there is no git checkout.
func projectVersion() string {
	cmd := exec.Command("git", "describe", "--tags", "--always", "--dirty")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		return v
	}
	return "v0.0.0-container-test"
}

// dockerfileBase returns the image of the Dockerfile's first stage.
func dockerfileBase(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	from := regexp.MustCompile(`(?i)^FROM\s+(\S+)`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := from.FindStringSubmatch(strings.TrimSpace(sc.Text())); m != nil {
			return m[1], nil
		}
	}
	return "", fmt.Errorf("%s has no FROM line", path)
}

// composeImage returns the image of a service of a compose file.
func composeImage(path, service string) (string, error) {
	var cf struct {
		Services map[string]struct {
			Image string `yaml:"image"`
		} `yaml:"services"`
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if err := yaml.Unmarshal(data, &cf); err != nil {
		return "", err
	}
	img := cf.Services[service].Image
	if img == "" {
		return "", fmt.Errorf("%s: service %q has no image", path, service)
	}
	return img, nil
}
