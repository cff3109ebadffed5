package container

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// job is a pytest-like process that outlived what started it, inside a
// container of its own: its parent exited and it was reparented onto the
// container's init, as a CI job's pytest is when the agent that ran it is
// killed.
type job struct {
	containerID string
	pid         int    // in the host's PID namespace
	pattern     string // a substring of its command line only it has
}

// startJob runs the job's container (no network) from the golang stand-in,
// which has bash; the container is removed when the test ends.
func (s *testEnv) startJob(t *testing.T, marker string) *job {
	t.Helper()
	image, err := dockerfileBase(filepath.Join(repoRoot, "Dockerfile"))
	require.NoError(t, err)
	argv0 := "python3 -m pytest tests/test_" + marker + ".py -x"
	// The name travels in the environment: in the shells' argv it would make
	// them match the pattern too.
	out, err := s.podman("run", "--detach", "--network", "none", "--name", "job-"+marker,
		"--env", "ORPHAN_ARGV0="+argv0, image,
		"bash", "-c", `( exec -a "$ORPHAN_ARGV0" sleep 3600 & ); exec -a 'tini -- pytest' sleep 3600`)
	require.NoError(t, err, out)
	j := &job{containerID: strings.TrimSpace(out), pattern: "tests/test_" + marker + ".py"}
	t.Cleanup(func() {
		if out, err := s.podman("rm", "--force", "--time", "0", j.containerID); err != nil {
			t.Errorf("removing the job's container: %v: %s", err, out)
		}
	})
	waitFor(t, 30*time.Second, "the job's process", func() bool {
		j.pid = findByArgv0(argv0)
		return j.pid > 0
	})
	return j
}

// kill ends the job's pytest, leaving the container's init: the watchdog must
// see the process gone (a zombie, since this init does not reap).
func (j *job) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, syscall.Kill(j.pid, syscall.SIGKILL))
	waitFor(t, 10*time.Second, "the job's process to die", func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", j.pid))
		return err != nil || bytes.Contains(b, []byte(") Z "))
	})
}

// findByArgv0 returns the PID of the process whose argv[0] is argv0.
func findByArgv0(argv0 string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if first, _, _ := bytes.Cut(b, []byte{0}); string(first) == argv0 {
			return pid
		}
	}
	return 0
}

// marker is a random word that names one test's job, project and files.
func marker(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "pbct" + hex.EncodeToString(b)
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// stepLogger logs with the seconds since the test started, so that a slow
// step shows in `go test -v` and in a failure's log.
func stepLogger(t *testing.T) func(string, ...any) {
	start := time.Now()
	return func(format string, args ...any) {
		t.Helper()
		t.Logf("[%6.1fs] "+format, append([]any{time.Since(start).Seconds()}, args...)...)
	}
}
