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
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// engine is a container engine of the test's own (podman, or Docker's
// dockerd): its storage, runtime state and networks live in one temporary
// directory, so that it neither sees nor touches anything else on the
// machine, and removing that directory at the end removes everything it made.
type engine struct {
	name    string   // "podman" or "docker", for messages
	client  string   // its command-line client
	dir     string   // everything it keeps
	env     []string // the environment of every client and compose command
	socket  string   // its Docker-compatible API
	release string   // as the docs name it: "Docker Engine 20.10.24", "podman 4.3.1"
	// shutdown removes what the engine made and stops its daemons; close
	// then removes dir.
	shutdown func(logf func(string, ...any))

	netMu    sync.Mutex
	subnets  []*net.IPNet // of the networks made so far
	networks []string

	standInOnce sync.Once
	standInErr  error
}

// baseEnv is this process's environment without what configures an engine
// or compose: the compose file's variables are the test's to set, per
// command, and each engine gets its own settings.
func baseEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return strings.HasPrefix(name, "TELEGRAM_") || strings.HasPrefix(name, "DOCKER_") ||
			strings.HasPrefix(name, "COMPOSE_") || strings.HasPrefix(name, "CONTAINERS_") ||
			strings.HasPrefix(name, "BUILDKIT_") || name == "TMPDIR" ||
			name == "PROCBLOCKING_VERSION" || name == "INFLUXDB_PORT"
	})
}

// cli runs the engine's client and returns its combined output.
func (e *engine) cli(args ...string) (string, error) {
	cmd := exec.Command(e.client, args...)
	cmd.Env = e.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// removeContainer removes a container at once, running or not.
func (e *engine) removeContainer(id string) (string, error) {
	args := []string{"rm", "--force"}
	if e.name == "podman" {
		// podman's --force stops first, waiting 10s for the container to
		// end on SIGTERM; docker's kills at once.
		args = append(args, "--time", "0")
	}
	return e.cli(append(args, id)...)
}

// daemon is a process an engine runs on (podman's API service, dockerd,
// containerd), started by the test and stopped by it.
type daemon struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// startDaemon starts cmd with its output to logFile and waits until ready
// succeeds, for at most 60s.
func startDaemon(name string, cmd *exec.Cmd, logFile string, ready func() error) (*daemon, error) {
	// Ends with the test binary even when a timeout kills it before cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	f, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(d.done) }()
	start := time.Now()
	for {
		err := ready()
		if err == nil {
			return d, nil
		}
		select {
		case <-d.done:
			log, _ := os.ReadFile(logFile)
			return d, fmt.Errorf("%s exited: %s", name, log)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Since(start) > 60*time.Second {
			log, _ := os.ReadFile(logFile)
			return d, fmt.Errorf("%s not ready within 60s (%v): %s", name, err, log)
		}
	}
}

// stop ends the daemon with SIGTERM, or SIGKILL after timeout.
func (d *daemon) stop(timeout time.Duration) {
	if d == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(timeout):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// api calls the engine's Docker-compatible API over its socket.
func (e *engine) api(method, path string, body any) ([]byte, error) {
	return apiCall(e.socket, method, path, body)
}

// apiCall calls a Docker-compatible API at a unix socket.
func apiCall(socket, method, path string, body any) ([]byte, error) {
	client := &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
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
	req, err := http.NewRequest(method, "http://engine"+path, r)
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
// engine) cannot collide; each compose project gets its own, as compose
// would make it, so that service names resolve within the project only.
// podman's CLI cannot name the bridge; the Docker-compatible API can.
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
			"Name":           n.name,
			"Driver":         "bridge",
			"CheckDuplicate": true,
			"IPAM":           map[string]any{"Config": []map[string]string{{"Subnet": n.subnet, "Gateway": n.gateway}}},
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
func (e *engine) removeNetwork(name string) error {
	if _, err := e.api(http.MethodDelete, "/networks/"+name, nil); err != nil {
		return fmt.Errorf("removing network %s: %w", name, err)
	}
	e.netMu.Lock()
	defer e.netMu.Unlock()
	e.networks = slices.DeleteFunc(e.networks, func(n string) bool { return n == name })
	return nil
}

// removeNetworks removes the networks the tests left: a bridge outlives the
// engine that made it.
func (e *engine) removeNetworks(logf func(string, ...any)) {
	e.netMu.Lock()
	left := slices.Clone(e.networks)
	e.netMu.Unlock()
	for _, n := range left {
		if err := e.removeNetwork(n); err != nil {
			logf("cleanup: %v", err)
		}
	}
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

// close removes everything the engine made and its directory.
func (e *engine) close(logf func(string, ...any)) {
	if e == nil {
		return
	}
	if e.shutdown != nil {
		e.shutdown(logf)
	}
	// Whatever is still mounted under the directory (an overlay the engine
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
