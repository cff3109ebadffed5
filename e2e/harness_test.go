// Package e2e runs the real binaries against real processes, a real InfluxDB
// server and a local server speaking Telegram's sendMessage contract.
package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/influxtest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "procblocking-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// A binary that keeps state where the configuration names no place keeps
	// it here, not in the machine's /var/lib/procblocking. No test may: the
	// tests run in parallel, and the state (and the lock on it) of one agent
	// would be another's. A test that needs the default gives its agent a
	// directory of its own in PROCBLOCKING_STATE_DIR.
	shared := filepath.Join(dir, "state")
	if err := os.Setenv("PROCBLOCKING_STATE_DIR", shared); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if entries, err := os.ReadDir(shared); err == nil && len(entries) > 0 && code == 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		fmt.Fprintf(os.Stderr, "FAIL: an agent kept state in the directory all the tests share (%s): "+
			"give its test a PROCBLOCKING_STATE_DIR of its own\n", strings.Join(names, ", "))
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildMu    sync.Mutex
	buildCache = map[string]string{}
)

// buildBinary builds ./cmd/<name> of this module once and returns its path.
func buildBinary(t testing.TB, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if path, ok := buildCache[name]; ok {
		return path
	}
	path, err := proctest.Binary("..", name, "./cmd/"+name)
	require.NoError(t, err)
	buildCache[name] = path
	return path
}

func isRoot() bool { return os.Geteuid() == 0 }

// listeningPort waits until a server the test started on port 0 logs the
// port the kernel gave it, in a line with prefix and then 127.0.0.1:<port>:
// a port the test chose and freed for the server could be taken in between
// by another test running in parallel.
func listeningPort(t testing.TB, p *proctest.Proc, what, prefix string) int {
	t.Helper()
	re := regexp.MustCompile(`(?m)` + regexp.QuoteMeta(prefix) + `.*127\.0\.0\.1:(\d+)\b`)
	var port int
	proctest.WaitFor(t, 60*time.Second, what+" to log its port", func() bool {
		if p.Exited() {
			t.Fatalf("%s exited: %v\n%s", what, p.Err(), p.Stderr.String())
		}
		m := re.FindStringSubmatch(p.Stderr.String())
		if m == nil {
			return false
		}
		var err error
		port, err = strconv.Atoi(m[1])
		require.NoError(t, err)
		return true
	})
	return port
}

// orphan is a pytest-like process whose parent exited: in a new PID
// namespace (as root) it is reparented onto the namespace's init, like a
// container's tini; otherwise onto whatever adopts orphans on the host.
type orphan struct {
	PID     int
	Cmdline string
	Marker  string
	holder  *proctest.Proc // unshare, whose death kills the namespace; nil when not root
}

func startOrphan(t testing.TB, marker string) *orphan {
	t.Helper()
	argv0 := "python3 -m pytest tests/test_" + marker + ".py -x"
	// The name travels in the environment: in the shells' argv it would make
	// them match the pattern too.
	env := []string{"ORPHAN_ARGV0=" + argv0}
	const inner = `( exec -a "$ORPHAN_ARGV0" sleep 3600 & )`
	o := &orphan{Cmdline: argv0 + " 3600", Marker: marker}
	if isRoot() {
		// --kill-child: when unshare dies, the namespace's init and with it
		// every process of the namespace die too.
		o.holder = proctest.Start(t, env, "unshare", "--pid", "--fork", "--kill-child",
			"bash", "-c", inner+"; exec -a 'tini -- pytest' sleep 3600")
	} else {
		cmd := exec.Command("bash", "-c", inner)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
	}
	proctest.WaitFor(t, 60*time.Second, "the orphan to appear in /proc", func() bool {
		o.PID = findByMarker(marker)
		return o.PID > 0
	})
	pid := o.PID
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	return o
}

// findByArgv0 returns the PID of a process whose argv[0] is argv0.
func findByArgv0(argv0 string) int {
	return proctest.FindByArgv0(func(first []byte) bool { return string(first) == argv0 })
}

// findByMarker returns the PID of the one process whose argv[0] holds marker.
func findByMarker(marker string) int {
	return proctest.FindByArgv0(func(argv0 []byte) bool {
		return bytes.Contains(argv0, []byte(marker)) && bytes.HasPrefix(argv0, []byte("python3 -m pytest"))
	})
}

func (o *orphan) kill(t testing.TB) {
	t.Helper()
	proctest.KillAndWait(t, o.PID)
}

// influxServer is a real influxd on 127.0.0.1 with all its data in a temp dir.
type influxServer struct {
	URL string
}

func startInflux(t testing.TB) *influxServer {
	t.Helper()
	influxd, err := exec.LookPath("influxd")
	if err != nil {
		if !isRoot() {
			t.Skipf("influxd is not installed and this is not root (make test installs it as root): %v", err)
		}
		t.Fatalf("influxd is not installed: run `make test-deps` (scripts/install-test-deps.sh): %v", err)
	}
	dir := t.TempDir()
	// Port 0: the kernel chooses, and influxd logs its HTTP port.
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:0"

[meta]
  dir = %q

[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:0"
  log-enabled = false

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false
`, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"))
	confPath := filepath.Join(dir, "influxdb.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o600))

	p := proctest.Start(t, nil, influxd, "-config", confPath)
	s := &influxServer{URL: fmt.Sprintf("http://127.0.0.1:%d", listeningPort(t, p, "influxd", `msg="Listening on HTTP"`))}
	proctest.WaitFor(t, 60*time.Second, "influxd to answer /ping", func() bool {
		if p.Exited() {
			t.Fatalf("influxd exited: %v\n%s", p.Err(), p.Stderr.String())
		}
		resp, err := http.Get(s.URL + "/ping")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNoContent
	})
	return s
}

// row is one result row keyed by column, with the series' tags merged in.
type row = influxtest.Row

func (s *influxServer) query(t testing.TB, db, q string) []row {
	t.Helper()
	rows, err := influxtest.Query(s.URL, db, q)
	require.NoError(t, err, q)
	return rows
}

// num reads a JSON number column as float64.
func num(t testing.TB, r row, col string) float64 {
	t.Helper()
	v, ok := r[col].(float64)
	require.True(t, ok, "column %q is %T (%v), want a number", col, r[col], r[col])
	return v
}

// exitCode returns the exit code of an exited process's error.
func exitCode(err error) int {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

// readmeQueries extracts the InfluxQL statements of the README's history
// section: lines starting with SELECT inside ```sql blocks.
func readmeQueries(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	var queries []string
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "```sql"):
			in = true
		case strings.HasPrefix(line, "```"):
			in = false
		case in && strings.HasPrefix(strings.TrimSpace(line), "SELECT"):
			queries = append(queries, strings.TrimSpace(line))
		}
	}
	return queries
}

// queueFinished reports whether the Telegram output whose queue file is
// path has recorded every event it queued as finished: the file's last done
// record covers its last added event (a compacted file holds none). Until
// then a SIGKILL may catch a message Telegram took before the output
// recorded it, which the output sends again when it restarts (at least
// once, as its README says).
func queueFinished(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var added, done uint64
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		// Each line is a checksum, a space and a JSON record.
		_, js, ok := bytes.Cut(line, []byte(" "))
		var r struct {
			Add *struct {
				Seq uint64 `json:"seq"`
			} `json:"add"`
			Done uint64 `json:"done"`
		}
		if !ok || json.Unmarshal(js, &r) != nil {
			continue
		}
		if r.Add != nil {
			added = max(added, r.Add.Seq)
		}
		done = max(done, r.Done)
	}
	return done >= added
}
