package container

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// composer is how a leg runs compose.
type composer struct {
	name string   // for messages: "docker-compose 1.29.2", "Compose v2.40.3"
	argv []string // the command: docker-compose, or docker compose
	env  []string // what it needs besides the engine's environment
}

// composeV1 is Debian's docker-compose 1.29 with its defaults: under Docker
// it builds with the engine's classic builder.
func composeV1(e *engine) (composer, error) {
	path, err := exec.LookPath("docker-compose")
	if err != nil {
		return composer{}, fmt.Errorf("docker-compose is not installed: run `make test-deps` as root (scripts/install-container-engine.sh installs Debian's docker-compose): %w", err)
	}
	out, err := exec.Command(path, "version", "--short").Output()
	if err != nil {
		return composer{}, fmt.Errorf("docker-compose version: %w", err)
	}
	api, err := e.apiVersion()
	if err != nil {
		return composer{}, err
	}
	return composer{name: "docker-compose " + strings.TrimSpace(string(out)), argv: []string{path},
		env: []string{
			// docker-compose gives up on an API call after 60 s by default;
			// on a loaded machine the image build's call takes longer. The
			// test's own timeout is the limit.
			"COMPOSE_HTTP_TIMEOUT=3600",
			// The API version docker-compose would agree with the engine at
			// every command, agreed once: podman answers each /version by
			// asking dpkg which package each of its helpers came from,
			// seconds of CPU per compose command on Debian
			// (containers/podman#19317).
			"COMPOSE_API_VERSION=" + api,
		}}, nil
}

// apiVersion is the Docker API version the engine speaks, as it answers
// /version.
func (e *engine) apiVersion() (string, error) {
	body, err := e.api(http.MethodGet, "/version", nil)
	if err != nil {
		return "", fmt.Errorf("%s /version: %w", e.name, err)
	}
	var v struct {
		APIVersion string `json:"ApiVersion"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.APIVersion == "" {
		return "", fmt.Errorf("%s /version answered %q, with no ApiVersion", e.name, body)
	}
	return v.APIVersion, nil
}

// composeV2 is `docker compose`: Compose v2, which
// scripts/install-compose-v2.sh builds, as a CLI plugin of the engine's
// client (found in the client's own DOCKER_CONFIG), with its defaults.
func composeV2(e *engine) (composer, error) {
	cmd := exec.Command("bash", filepath.Join(repoRoot, "scripts", "install-compose-v2.sh"), "--print-path")
	out, err := cmd.Output()
	if err != nil {
		return composer{}, fmt.Errorf("scripts/install-compose-v2.sh --print-path: %w", err)
	}
	plugin := strings.TrimSpace(string(out))
	if _, err := os.Stat(plugin); err != nil {
		return composer{}, fmt.Errorf("Compose v2 is not installed: run `make test-deps` (scripts/install-compose-v2.sh builds it): %w", err)
	}
	var configDir string
	for _, kv := range e.env {
		if v, ok := strings.CutPrefix(kv, "DOCKER_CONFIG="); ok {
			configDir = v
		}
	}
	if configDir == "" {
		return composer{}, fmt.Errorf("the %s engine has no DOCKER_CONFIG for CLI plugins", e.name)
	}
	plugins := filepath.Join(configDir, "cli-plugins")
	if err := os.MkdirAll(plugins, 0o700); err != nil {
		return composer{}, err
	}
	if err := os.Symlink(plugin, filepath.Join(plugins, "docker-compose")); err != nil {
		return composer{}, err
	}
	c := composer{argv: []string{e.client, "compose"}}
	cmd = exec.Command(e.client, "compose", "version", "--short")
	cmd.Env = e.env
	out, err = cmd.CombinedOutput()
	if err != nil {
		return composer{}, fmt.Errorf("%s compose version: %w: %s", e.client, err, out)
	}
	c.name = "Compose v" + strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	return c, nil
}
