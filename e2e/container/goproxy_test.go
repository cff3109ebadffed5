package container

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

var (
	moduleProxyOnce sync.Once
	moduleProxyURL  string
	moduleProxyErr  error
	moduleProxySrv  *http.Server
)

// moduleProxy serves this machine's Go module cache as a module proxy on
// 127.0.0.1 (the cache's download directory has the proxy protocol's
// layout), for the Dockerfile's `go mod download`: the builds run on the
// host's network and take the modules from here instead of the internet.
// It returns the GOPROXY to build with: this proxy, then the machine's own
// for a module the cache lacks.
func moduleProxy() (string, error) {
	moduleProxyOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMODCACHE", "GOPROXY").Output()
		if err != nil {
			moduleProxyErr = fmt.Errorf("go env: %w", err)
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 2 {
			moduleProxyErr = fmt.Errorf("go env GOMODCACHE GOPROXY: %q", out)
			return
		}
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			moduleProxyErr = err
			return
		}
		moduleProxySrv = &http.Server{Handler: http.FileServer(http.Dir(filepath.Join(lines[0], "cache", "download")))}
		go func() { _ = moduleProxySrv.Serve(l) }()
		moduleProxyURL = "http://" + l.Addr().String()
		if next := lines[1]; next != "" && next != "off" {
			moduleProxyURL += "," + next
		}
	})
	return moduleProxyURL, moduleProxyErr
}

// closeModuleProxy stops the proxy, if it was started.
func closeModuleProxy() {
	if moduleProxySrv != nil {
		_ = moduleProxySrv.Close()
	}
}
