// Package container runs the project's image and compose stack under real
// container engines: Debian's Docker Engine driven by docker-compose 1.29
// with its defaults (the classic builder) and by Compose v2 (BuildKit), each
// building the image, and podman driven by docker-compose 1.29 through its
// API on the image BuildKit built; and the Kubernetes DaemonSet's pod under
// `podman kube play`.
package container

import (
	"bufio"
	"flag"
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

	"github.com/procblocking/procblocking/internal/testkit/deploytest"
)

// repoRoot is the project's directory, where the Dockerfile and compose file
// are.
const repoRoot = "../.."

// imageName is the image docker-compose.yml builds and runs.
const imageName = "procblocking/telegraf-procblocking:latest"

// testEnv is what the tests of one leg share: its engine, the compose that
// drives it, the stand-in base images, and the project's image built by that
// compose from the project's Dockerfile.
type testEnv struct {
	*engine
	leg      string // the leg's name
	composer composer
	// image is the tag the leg's compose builds (or the leg loads) and runs.
	image string
	// imageOverride, when not empty, is a compose file that gives the
	// watchdog service image instead of the compose file's own tag.
	imageOverride string
	version       string // what the image was built with: `make`'s VERSION
}

// leg is one engine and compose the stack is proven under, made on first
// use: a test run with -run pays only for its legs.
type leg struct {
	name      string
	newEngine func(logf func(string, ...any)) (*engine, error)
	composer  func(e *engine) (composer, error)
	// imageFrom is the leg whose image this one loads (save, then load)
	// instead of building it: the build of the Dockerfile is proven under
	// the builders Debian's Docker users get, and a third build of it would
	// cost minutes of the two cores' time without proving more of the
	// image, which is the same.
	imageFrom *leg
	// image is the tag the leg builds and runs: the compose file's own, or
	// one of the leg's where it shares its engine with another leg.
	image string

	once sync.Once
	env  *testEnv
	err  error
}

var (
	// podmanLeg runs the image Docker's BuildKit built.
	podmanLeg = &leg{name: "podman", newEngine: newPodman, composer: composeV1, imageFrom: dockerComposeV2Leg, image: imageName}
	dockerLeg = &leg{name: "docker", newEngine: sharedDocker, composer: composeV1, image: imageName}
	// dockerComposeV2Leg is Docker with `docker compose`: Compose v2 as the
	// CLI plugin of Debian's docker client. Its image has a tag of its own
	// on the Docker Engine it shares with the docker leg.
	dockerComposeV2Leg = &leg{name: "docker-compose-v2", newEngine: sharedDocker, composer: composeV2,
		image: "procblocking/telegraf-procblocking:compose-v2"}

	legs = []*leg{podmanLeg, dockerLeg, dockerComposeV2Leg}
)

// sharedDocker is the Docker Engine both Docker legs run on: the legs differ
// in their compose and its builder, not in the engine, and one engine
// imports the stand-in base images once (the golang one, with its build
// cache, is 600 MB) instead of twice.
func sharedDocker(logf func(string, ...any)) (*engine, error) {
	dockerOnce.Do(func() { dockerEngine, dockerErr = newDocker(logf) })
	return dockerEngine, dockerErr
}

var (
	dockerOnce   sync.Once
	dockerEngine *engine
	dockerErr    error
)

func TestMain(m *testing.M) {
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	var made sync.WaitGroup
	flag.Parse()
	if flag.Lookup("test.run").Value.String() == "" && flag.Lookup("test.list").Value.String() == "" {
		// Every leg is needed: make them all at once, from the start. Left
		// to the tests, a leg would wait for a free slot of -parallel (the
		// number of CPUs), held meanwhile by tests waiting for another leg.
		for _, l := range legs {
			made.Go(func() { _, _ = l.setUp(logf) })
		}
	}
	code := m.Run()
	made.Wait()
	var wg sync.WaitGroup
	closing := map[*engine]bool{}
	for _, l := range legs {
		if l.env != nil && !closing[l.env.engine] {
			closing[l.env.engine] = true
			wg.Go(func() { l.env.close(logf) })
		}
	}
	wg.Wait()
	closeModuleProxy()
	os.Exit(code)
}

// env returns the podman leg's environment, which the tests of the image,
// the compose variants and the Kubernetes pod share.
func env(t *testing.T) *testEnv {
	t.Helper()
	return podmanLeg.get(t)
}

// get returns the leg's environment, making it on first use. A machine
// where it cannot be made fails the test with the reason.
func (l *leg) get(t *testing.T) *testEnv {
	t.Helper()
	env, err := l.setUp(t.Logf)
	require.NoError(t, err, "setting up %s", l.name)
	return env
}

// setUp makes the leg's environment once; every caller gets the same.
func (l *leg) setUp(log func(string, ...any)) (*testEnv, error) {
	l.once.Do(func() {
		start := time.Now()
		logf := func(format string, args ...any) {
			log("[%6.1fs] %s: "+format, append([]any{time.Since(start).Seconds(), l.name}, args...)...)
		}
		var e *engine
		e, l.err = l.newEngine(logf)
		l.env = &testEnv{engine: e, leg: l.name, image: l.image}
		if l.err != nil {
			return
		}
		if l.env.composer, l.err = l.composer(e); l.err != nil {
			return
		}
		if l.image != imageName {
			l.env.imageOverride = filepath.Join(e.dir, l.name+"-image.yml")
			if l.err = os.WriteFile(l.env.imageOverride, fmt.Appendf(nil, "services:\n  watchdog:\n    image: %s\n", l.image), 0o600); l.err != nil {
				return
			}
		}
		if l.err = e.standIn(l.imageFrom == nil, logf); l.err != nil {
			return
		}
		if l.imageFrom == nil {
			l.err = l.env.build(logf)
			return
		}
		from, err := l.imageFrom.setUp(log)
		if err != nil {
			l.err = fmt.Errorf("the image of %s: %w", l.imageFrom.name, err)
			return
		}
		load := time.Now()
		if l.err = l.env.loadImage(from, l.image); l.err != nil {
			return
		}
		l.env.version = from.version
		logf("loaded %s (version %s) from %s's %s in %s", l.image, from.version, from.release, from.composer.name, time.Since(load).Round(100*time.Millisecond))
	})
	return l.env, l.err
}

// standIn stands in the base images the project's files name, once per
// engine: golang (the jobs run on it; with the toolchain and the image's
// build cache when the engine builds the image) and influxdb.
func (e *engine) standIn(building bool, logf func(string, ...any)) error {
	e.standInOnce.Do(func() { e.standInErr = e.standInBases(building, logf) })
	return e.standInErr
}

func (e *engine) standInBases(building bool, logf func(string, ...any)) error {
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
	if !building {
		if err := e.standInGolang(golangImage, hostGo, "", ""); err != nil {
			return err
		}
		logf("stood in %s for the jobs: a shell, no toolchain (this engine builds nothing)", golangImage)
	} else {
		buildCache, err := imageBuildCache(logf)
		if err != nil {
			return err
		}
		if err := e.standInGolang(golangImage, hostGo, strings.TrimSpace(string(goroot)), buildCache); err != nil {
			return err
		}
		logf("stood in %s (this machine's %s)", golangImage, hostGo)
	}

	influxImage, err := composeImage(filepath.Join(repoRoot, "docker-compose.yml"), "influxdb")
	if err != nil {
		return err
	}
	if err := e.standInInfluxDB(influxImage); err != nil {
		return err
	}
	logf("stood in %s (Debian's influxd)", influxImage)
	return nil
}

// build builds the project's image with the leg's compose from
// docker-compose.yml and the Dockerfile.
func (s *testEnv) build(logf func(string, ...any)) error {
	goproxy, err := moduleProxy()
	if err != nil {
		return err
	}
	s.version = projectVersion()
	override := filepath.Join(s.dir, s.leg+"-build.yml")
	// Host networking for the build's RUN lines: the module proxy on
	// 127.0.0.1 is reachable, and no bridge is made that another run could
	// collide with.
	if err := os.WriteFile(override, fmt.Appendf(nil, "services:\n  watchdog:\n    build:\n      network: host\n      args:\n        GOPROXY: %q\n", goproxy), 0o600); err != nil {
		return err
	}
	build := time.Now()
	out, err := s.compose("procblocking-build-"+s.leg, []string{override}, []string{"PROCBLOCKING_VERSION=" + s.version}, "build", "watchdog")
	if err != nil {
		return fmt.Errorf("%s build: %w\n%s", s.composer.name, err, out)
	}
	logf("built %s (version %s) with %s in %s", s.image, s.version, s.composer.name, time.Since(build).Round(100*time.Millisecond))
	return nil
}

// imageBuildCache returns the directory whose root/.cache/go-build is the Go
// build cache the golang stand-in carries, after building the project into
// it with the Dockerfile's settings. It lives in the user's cache directory,
// so that only the first run on a machine compiles everything.
func imageBuildCache(logf func(string, ...any)) (string, error) {
	imageBuildCacheOnce.Do(func() {
		base, err := os.UserCacheDir()
		if err != nil {
			imageBuildCacheErr = err
			return
		}
		dir := filepath.Join(base, "procblocking", "image-build")
		start := time.Now()
		// go list -export compiles what the Dockerfile's go build compiles
		// (the same flags, the same cache entries) without linking a binary
		// only to discard it.
		cmd := exec.Command("go", "list", "-trimpath", "-export", "./cmd/telegraf-procblocking")
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOCACHE="+filepath.Join(dir, "root", ".cache", "go-build"))
		if out, err := cmd.CombinedOutput(); err != nil {
			imageBuildCacheErr = fmt.Errorf("warming the image's build cache: %w\n%s", err, out)
			return
		}
		logf("the image's build cache warmed in %s", time.Since(start).Round(100*time.Millisecond))
		imageBuildCacheDir = dir
	})
	return imageBuildCacheDir, imageBuildCacheErr
}

var (
	imageBuildCacheOnce sync.Once
	imageBuildCacheDir  string
	imageBuildCacheErr  error
)

// network makes a network for the test, removed when the test ends (after
// the containers on it: cleanups run last-registered first).
func (s *testEnv) network(t *testing.T) *testNetwork {
	t.Helper()
	n, err := s.createNetwork()
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := s.removeNetwork(n.name); err != nil {
			t.Error(err)
		}
	})
	return n
}

// compose runs the leg's compose on the project's docker-compose.yml plus
// the leg's image tag and the given override files, as project, with extra
// environment variables.
func (s *testEnv) compose(project string, overrides, extraEnv []string, args ...string) (string, error) {
	full := append(s.composer.argv[1:len(s.composer.argv):len(s.composer.argv)],
		"--project-name", project, "--project-directory", repoRoot, "--file", filepath.Join(repoRoot, "docker-compose.yml"))
	if s.imageOverride != "" {
		full = append(full, "--file", s.imageOverride)
	}
	for _, o := range overrides {
		full = append(full, "--file", o)
	}
	full = append(full, args...)
	cmd := exec.Command(s.composer.argv[0], full...)
	cmd.Env = append(append(append([]string(nil), s.env...), s.composer.env...), extraEnv...)
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
	cf, err := deploytest.LoadCompose(path)
	if err != nil {
		return "", err
	}
	img := cf.Services[service].Image
	if img == "" {
		return "", fmt.Errorf("%s: service %q has no image", path, service)
	}
	return img, nil
}
