package container

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// engine is a podman of the test's own: its storage, network definitions,
// runtime state and build caches live in one temporary directory, so that it
// neither sees nor touches anything else on the machine, and removing that
// directory at the end removes everything it made.
//
// It runs containers with runc and fixed rlimits: Debian's default crun
// cannot set RLIMIT_NOFILE or use hybrid cgroups on machines like CI's.
type engine struct {
	dir         string
	env         []string // the environment of every podman and compose command
	socket      string
	service     *exec.Cmd
	serviceDone chan struct{}

	netMu    sync.Mutex
	subnets  []*net.IPNet // of the networks made so far
	networks []string
}

// tools the container tests need; scripts/install-container-engine.sh
// installs them.
var tools = []string{"podman", "runc", "docker-compose"}

// newEngine prepares the engine and starts its API service (what
// docker-compose talks to). It fails, never skips, when the engine is missing
// or does not work: `make test` installs it first.
func newEngine(logf func(string, ...any)) (*engine, error) {
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is not installed: run `make test-deps` as root (scripts/install-container-engine.sh installs podman, runc and docker-compose from Debian's packages): %w", tool, err)
		}
	}
	dir, err := os.MkdirTemp("", "procblocking-container-")
	if err != nil {
		return nil, err
	}
	e := &engine{dir: dir, socket: filepath.Join(dir, "podman.sock")}
	for _, sub := range []string{"tmp", "networks", "libpod"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, err
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
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "storage.conf"), []byte(storageConf), 0o600); err != nil {
		return nil, err
	}

	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		// The compose file's variables are the test's to set, per command.
		return strings.HasPrefix(name, "TELEGRAM_") || strings.HasPrefix(name, "DOCKER_") ||
			strings.HasPrefix(name, "COMPOSE_") || strings.HasPrefix(name, "CONTAINERS_") ||
			name == "TMPDIR" || name == "PROCBLOCKING_VERSION" || name == "INFLUXDB_PORT"
	})
	e.env = append(env,
		"CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"),
		// Buildah keeps RUN --mount=type=cache directories under $TMPDIR.
		"TMPDIR="+filepath.Join(dir, "tmp"),
		"DOCKER_HOST=unix://"+e.socket,
		// docker-compose 1.29 builds through the API (podman's buildah), not
		// by running a docker CLI.
		"COMPOSE_DOCKER_CLI_BUILD=0",
		"DOCKER_BUILDKIT=0",
		// docker-compose gives up on an API call after 60 s by default; on
		// a loaded machine the image build's call takes longer. The test's
		// own timeout is the limit.
		"COMPOSE_HTTP_TIMEOUT=3600",
	)

	if out, err := e.podman("info", "--format", "{{.Host.OCIRuntime.Name}} {{.Store.GraphDriverName}}"); err != nil {
		return e, fmt.Errorf("podman does not work here: %w\n%s", err, out)
	} else if got := strings.TrimSpace(out); got != "runc overlay" {
		return e, fmt.Errorf("podman info says %q, want runtime runc and overlay storage", got)
	}

	start := time.Now()
	e.service = exec.Command("podman", "system", "service", "--time=0", "unix://"+e.socket)
	e.service.Env = e.env
	// Ends with the test binary even when a timeout kills it before cleanup.
	e.service.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	var serviceLog bytes.Buffer
	e.service.Stdout, e.service.Stderr = &serviceLog, &serviceLog
	if err := e.service.Start(); err != nil {
		return e, fmt.Errorf("starting podman system service: %w", err)
	}
	e.serviceDone = make(chan struct{})
	go func() { _ = e.service.Wait(); close(e.serviceDone) }()
	for {
		if _, err := e.api(http.MethodGet, "/_ping", nil); err == nil {
			break
		}
		select {
		case <-e.serviceDone:
			return e, fmt.Errorf("podman system service exited: %s", serviceLog.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Since(start) > 60*time.Second {
			return e, fmt.Errorf("podman system service did not answer within 60s: %s", serviceLog.String())
		}
	}
	logf("podman API service up in %s", time.Since(start).Round(time.Millisecond))
	return e, nil
}

// podman runs the engine's CLI and returns its combined output.
func (e *engine) podman(args ...string) (string, error) {
	cmd := exec.Command("podman", args...)
	cmd.Env = e.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// api calls the engine's Docker-compatible API over its socket.
func (e *engine) api(method, path string, body any) ([]byte, error) {
	client := &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", e.socket)
		}},
	}
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://podman"+path, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return b, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	return b, nil
}

// testNetwork is a bridge network made for one test.
type testNetwork struct {
	name    string
	subnet  string
	gateway string // the host's address on it
}

// createNetwork makes a bridge network with a subnet and a bridge name no
// other network on the host uses, so that two runs at once (or another
// podman) cannot collide; each compose project gets its own, as compose
// would make it, so that service names resolve within the project only.
// podman's CLI cannot name the bridge; its Docker-compatible API can.
func (e *engine) createNetwork() (*testNetwork, error) {
	e.netMu.Lock()
	defer e.netMu.Unlock()
	taken, err := hostNetworks()
	if err != nil {
		return nil, err
	}
	taken = append(taken, e.subnets...)
	suffix := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	for range 200 {
		ip := net.IPv4(10, byte(200+rand.IntN(55)), byte(rand.IntN(256)), 0)
		_, subnet, _ := net.ParseCIDR(ip.String() + "/24")
		if slices.ContainsFunc(taken, func(n *net.IPNet) bool { return n.Contains(subnet.IP) || subnet.Contains(n.IP) }) {
			continue
		}
		n := &testNetwork{
			name:    "procblocking-test-" + suffix,
			subnet:  subnet.String(),
			gateway: net.IPv4(ip[12], ip[13], ip[14], 1).String(),
		}
		_, err := e.api(http.MethodPost, "/networks/create", map[string]any{
			"Name":   n.name,
			"Driver": "bridge",
			"IPAM":   map[string]any{"Config": []map[string]string{{"Subnet": n.subnet, "Gateway": n.gateway}}},
			"Options": map[string]string{
				"com.docker.network.bridge.name": "pbt" + suffix,
			},
		})
		if err != nil {
			return nil, fmt.Errorf("creating a test network: %w", err)
		}
		e.subnets = append(e.subnets, subnet)
		e.networks = append(e.networks, n.name)
		return n, nil
	}
	return nil, errors.New("no free 10.x.y.0/24 subnet for a test network")
}

// removeNetwork removes a test network (after whatever used it).
func (e *engine) removeNetwork(n *testNetwork) error {
	if out, err := e.podman("network", "rm", "--force", n.name); err != nil {
		return fmt.Errorf("podman network rm %s: %w: %s", n.name, err, out)
	}
	e.netMu.Lock()
	defer e.netMu.Unlock()
	e.networks = slices.DeleteFunc(e.networks, func(name string) bool { return name == n.name })
	return nil
}

// hostNetworks lists the networks of the host's interfaces and routes.
func hostNetworks() ([]*net.IPNet, error) {
	var nets []*net.IPNet
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			nets = append(nets, n)
		}
	}
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return nets, nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var iface string
		var dst, gw, mask uint32
		var flags, refcnt, use, metric int
		if n, _ := fmt.Sscanf(sc.Text(), "%s %X %X %X %d %d %d %X", &iface, &dst, &gw, &flags, &refcnt, &use, &metric, &mask); n != 8 || mask == 0 {
			continue
		}
		ip := net.IPv4(byte(dst), byte(dst>>8), byte(dst>>16), byte(dst>>24))
		m := net.IPv4Mask(byte(mask), byte(mask>>8), byte(mask>>16), byte(mask>>24))
		nets = append(nets, &net.IPNet{IP: ip.Mask(m), Mask: m})
	}
	return nets, nil
}

// close removes everything the engine made: containers, pods, images,
// volumes, secrets, the network, the API service, the storage.
func (e *engine) close(logf func(string, ...any)) {
	if e == nil {
		return
	}
	// The build cache mounts lead to the host's Go caches: gone first, so
	// that no cleanup below can reach through them.
	_ = os.RemoveAll(filepath.Join(e.dir, "tmp", "buildah-cache"))
	if e.service != nil && e.service.Process != nil {
		_ = e.service.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.serviceDone:
		case <-time.After(20 * time.Second):
			_ = e.service.Process.Kill()
			<-e.serviceDone
		}
	}
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
		if out, err := e.podman(args...); err != nil && !strings.Contains(out, "no such") {
			logf("cleanup: podman %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out))
		}
	}
	// Whatever is still mounted under the directory (an overlay the reset
	// left) is detached before the directory goes.
	if mounts, err := mountsUnder(e.dir); err == nil {
		for i := len(mounts) - 1; i >= 0; i-- {
			if err := syscall.Unmount(mounts[i], syscall.MNT_DETACH); err != nil {
				logf("cleanup: unmount %s: %v", mounts[i], err)
			}
		}
	}
	if err := os.RemoveAll(e.dir); err != nil {
		logf("cleanup: %v", err)
	}
}

// mountsUnder lists the mount points below dir, in mount order.
func mountsUnder(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for line := range strings.Lines(string(b)) {
		fields := strings.Fields(line)
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			out = append(out, fields[4])
		}
	}
	return out, nil
}
