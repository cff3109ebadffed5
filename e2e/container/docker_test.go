package container

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// dockerClient is the Docker CLI of Debian's docker.io, named by its path: a
// machine may have another docker earlier in PATH.
const dockerClient = "/usr/bin/docker"

// newDocker starts a Docker Engine of the test's own: Debian's dockerd on a
// containerd of its own, each with its root, state, sockets and pidfile in
// one temporary directory, so that it shares nothing with a system Docker
// (whose containerd dockerd would otherwise join) or with another run.
//
// It leaves the host's firewall alone (--iptables=false): dockerd removes
// and remakes its iptables chains when it starts, which would cut off the
// containers of any other dockerd running at the time. The tests need no
// NAT: a published port goes through docker-proxy, containers on a network
// reach each other over its bridge, and the host's address on it. For the
// same reason it makes no default docker0 bridge and leaves IP forwarding
// as it is.
func newDocker(logf func(string, ...any)) (*engine, error) {
	for _, tool := range []string{dockerClient, "dockerd", "containerd", "docker-proxy", "runc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is not installed: run `make test-deps` as root (scripts/install-container-engine.sh installs Debian's docker.io): %w", tool, err)
		}
	}
	dir, err := os.MkdirTemp("", "procblocking-docker-")
	if err != nil {
		return nil, err
	}
	e := &engine{name: "docker", client: dockerClient, dir: dir, socket: filepath.Join(dir, "docker.sock")}
	// Set before anything can fail: the cleanup's client must never reach
	// another dockerd.
	e.env = append(baseEnv(),
		"DOCKER_HOST=unix://"+e.socket,
		// The client's own configuration: no credentials or contexts of the
		// machine's, and the CLI plugins the tests give it.
		"DOCKER_CONFIG="+filepath.Join(dir, "config"),
	)
	var containerd, dockerd *daemon
	e.shutdown = func(logf func(string, ...any)) { e.shutdownDocker(dockerd, containerd, logf) }
	for _, sub := range []string{"containerd", "containerd-state", "opt", "data", "exec", "config"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return e, err
		}
	}
	start := time.Now()

	ctrSocket := filepath.Join(dir, "containerd.sock")
	ctrConf := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "containerd"), filepath.Join(dir, "containerd-state"), ctrSocket, ctrSocket+".ttrpc", filepath.Join(dir, "opt"))
	if err := os.WriteFile(filepath.Join(dir, "containerd.toml"), []byte(ctrConf), 0o600); err != nil {
		return e, err
	}
	containerd, err = startDaemon("containerd", exec.Command("containerd", "--config", filepath.Join(dir, "containerd.toml")),
		filepath.Join(dir, "containerd.log"), func() error {
			c, err := net.Dial("unix", ctrSocket)
			if err == nil {
				c.Close()
			}
			return err
		})
	if err != nil {
		return e, err
	}

	// Its own (empty) daemon.json: not the host's /etc/docker/daemon.json.
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o600); err != nil {
		return e, err
	}
	dockerd, err = startDaemon("dockerd", exec.Command("dockerd",
		"--config-file", filepath.Join(dir, "daemon.json"),
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"--host", "unix://"+e.socket,
		"--containerd", ctrSocket,
		"--iptables=false", "--ip-forward=false", "--bridge=none",
	), filepath.Join(dir, "dockerd.log"), func() error {
		_, err := e.api(http.MethodGet, "/_ping", nil)
		return err
	})
	if err != nil {
		return e, err
	}
	out, err := e.cli("version", "--format", "{{.Server.Version}} {{.Client.Version}}")
	if err != nil {
		return e, fmt.Errorf("docker version: %w: %s", err, out)
	}
	server, client, _ := strings.Cut(strings.TrimSpace(out), " ")
	// Debian's version, 20.10.24+dfsg1, is upstream's 20.10.24.
	upstream, _, _ := strings.Cut(server, "+")
	e.release = "Docker Engine " + upstream
	logf("dockerd up in %s: engine %s, client %s", time.Since(start).Round(time.Millisecond), server, client)
	return e, nil
}

// shutdownDocker removes the containers and networks (a bridge outlives its
// dockerd), then stops dockerd and its containerd; their directory goes
// with everything else the engine kept.
func (e *engine) shutdownDocker(dockerd, containerd *daemon, logf func(string, ...any)) {
	if dockerd != nil {
		if out, err := e.cli("ps", "--all", "--quiet"); err != nil {
			logf("cleanup: docker ps: %v: %s", err, out)
		} else if ids := strings.Fields(out); len(ids) > 0 {
			if out, err := e.cli(append([]string{"rm", "--force", "--volumes"}, ids...)...); err != nil {
				logf("cleanup: docker rm: %v: %s", err, out)
			}
		}
		e.removeNetworks(logf)
		dockerd.stop(30 * time.Second)
	}
	containerd.stop(30 * time.Second)
}
