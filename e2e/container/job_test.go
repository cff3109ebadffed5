package container

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/proctest"
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
	out, err := s.cli("run", "--detach", "--network", "none", "--name", "job-"+marker,
		"--env", "ORPHAN_ARGV0="+argv0, image,
		"bash", "-c", `( exec -a "$ORPHAN_ARGV0" sleep 3600 & ); exec -a 'tini -- pytest' sleep 3600`)
	require.NoError(t, err, out)
	j := &job{containerID: strings.TrimSpace(out), pattern: "tests/test_" + marker + ".py"}
	t.Cleanup(func() {
		if out, err := s.removeContainer(j.containerID); err != nil {
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
	proctest.KillAndWait(t, j.pid)
}

// findByArgv0 returns the PID of the process whose argv[0] is argv0.
func findByArgv0(argv0 string) int {
	return proctest.FindByArgv0(func(first []byte) bool { return string(first) == argv0 })
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
