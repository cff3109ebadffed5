//go:build linux

package benchmarks

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/influxdata/telegraf/logger"
)

// sleepPath is the program every spawned process runs: sleep takes its
// argv[1] as the duration and never looks at argv[0], so argv[0] can be made
// to look like anything, as `exec -a` does.
const sleepPath = "/bin/sleep"

// sleepSeconds bounds the life of a spawned process even if every other
// safeguard (the deferred kill, Pdeathsig) failed.
const sleepSeconds = "3600"

// pytestEvery makes one spawned process in ten look like a pytest run.
const pytestEvery = 10

// otherNames are the argv[0] of the processes that must not match "pytest".
var otherNames = []string{
	"nginx: worker process",
	"python3 manage.py runserver",
	"celery worker -A proj",
	"postgres: checkpointer",
	"node server.js",
	"gunicorn: worker [app]",
	"/usr/lib/jvm/bin/java -jar app.jar",
	"ruby bin/rails server",
	"containerd-shim -namespace moby",
}

// argvFor returns the argv of the i-th spawned process. It depends only on i,
// so the first n processes of any pool are the same mix: exactly n/10 of them
// look like pytest.
func argvFor(i int) []string {
	if i%pytestEvery == 0 {
		return []string{"python3 -m pytest tests/t_" + strconv.Itoa(i) + ".py", sleepSeconds}
	}
	return []string{otherNames[i%len(otherNames)], sleepSeconds}
}

// isPytest reports whether the i-th spawned process looks like pytest.
func isPytest(i int) bool { return i%pytestEvery == 0 }

// procPool holds real processes spawned for the benchmarks. It grows and
// shrinks from the tail, so a benchmark at N sees the first N of them; a pool
// is spawned once and reused by every benchmark at the same N.
type procPool struct {
	mu    sync.Mutex
	procs []*os.Process
}

// pool is shared by the benchmarks of this test binary; TestMain ends it.
var pool procPool

func (p *procPool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.procs)
}

// pids returns the PIDs of the pool, in spawn order.
func (p *procPool) pids() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]int, len(p.procs))
	for i, pr := range p.procs {
		out[i] = pr.Pid
	}
	return out
}

// resize spawns or ends processes until the pool holds exactly n, and
// returns once every one of them shows its argv in /proc.
func (p *procPool) resize(n int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.procs) > n {
		p.endLocked(n)
		return nil
	}
	if err := raiseNoFileLimit(n); err != nil {
		return err
	}
	attr := &os.ProcAttr{
		// The kernel kills the child if the benchmark process dies without
		// running its deferred kill (a panic, a -timeout, a SIGKILL).
		Sys: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	for i := len(p.procs); i < n; i++ {
		pr, err := os.StartProcess(sleepPath, argvFor(i), attr)
		if err != nil {
			return fmt.Errorf("spawning process %d of %d: %w", i+1, n, err)
		}
		p.procs = append(p.procs, pr)
	}
	for i, pr := range p.procs {
		if err := waitVisible(pr.Pid, argvFor(i)); err != nil {
			return err
		}
	}
	return nil
}

// endAll ends every process of the pool, by PID.
func (p *procPool) endAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLocked(0)
}

// endLocked kills the processes from index keep on and reaps them; killing
// all before waiting for any lets the kernel tear them down in parallel.
func (p *procPool) endLocked(keep int) {
	tail := p.procs[keep:]
	for _, pr := range tail {
		_ = pr.Kill()
	}
	for _, pr := range tail {
		_, _ = pr.Wait()
	}
	clear(tail)
	p.procs = p.procs[:keep]
}

// waitVisible polls /proc/<pid>/cmdline until it shows argv. os.StartProcess
// returns only after the exec succeeded, so this normally passes at once; it
// is here so that a benchmark never measures a pool that is not all there.
func waitVisible(pid int, argv []string) error {
	want := []byte{}
	for _, a := range argv {
		want = append(want, a...)
		want = append(want, 0)
	}
	path := "/proc/" + strconv.Itoa(pid) + "/cmdline"
	var got []byte
	for range 1000 {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("process %d not in /proc: %w", pid, err)
		}
		if bytes.Equal(b, want) {
			return nil
		}
		got = b
		syscall.Nanosleep(&syscall.Timespec{Nsec: 1e6}, nil)
	}
	return fmt.Errorf("process %d shows cmdline %q, want %q", pid, got, want)
}

// raiseNoFileLimit makes room for one pidfd per spawned process (os.Process
// holds one until Wait) plus the files a scan opens.
func raiseNoFileLimit(n int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	need := uint64(n) + 1024
	if lim.Cur >= need {
		return nil
	}
	if lim.Max < need {
		return fmt.Errorf("RLIMIT_NOFILE hard limit %d is below the %d needed for %d processes", lim.Max, need, n)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raising RLIMIT_NOFILE to %d: %w", lim.Cur, err)
	}
	return nil
}

// withPool sizes the shared pool to n for one benchmark or test; a failure
// to spawn stops it, and the pool is ended by TestMain whatever happens.
func withPool(tb testing.TB, n int) []int {
	tb.Helper()
	if err := pool.resize(n); err != nil {
		tb.Fatalf("spawning %d processes: %v", n, err)
	}
	return pool.pids()
}

// isolatedEnv marks the copy of the test binary that runs inside its own PID
// namespace; hostProcEnv=1 keeps the benchmarks on the host's /proc.
const (
	isolatedEnv = "PROCBLOCKING_BENCH_ISOLATED"
	hostProcEnv = "PROCBLOCKING_BENCH_HOST_PROC"
)

// TestMain runs the benchmarks, when it can (as root), in a new PID
// namespace with a private /proc: a scan then lists exactly the spawned
// processes and the benchmark itself, whatever else runs on the machine, so
// N is N. Other work still competes for the CPU; see cpu-ns/op. Plain tests
// run on the host's /proc, among the machine's other processes.
func TestMain(m *testing.M) {
	idleIfAsked()
	flag.Parse()
	switch {
	case os.Getenv(isolatedEnv) == "1":
		if err := syscall.Mount("proc", "/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
			fmt.Fprintf(os.Stderr, "mounting a private /proc: %v\n", err)
			os.Exit(2)
		}
	case benchmarking() && os.Geteuid() == 0 && os.Getenv(hostProcEnv) != "1":
		os.Exit(runIsolated())
	case benchmarking():
		fmt.Fprintln(os.Stderr, "benchmarks scan the host's /proc: other processes on the machine are scanned too")
	}
	if benchmarking() {
		// Errors only: the input warns at Init that a private PID namespace
		// is not the host's, and a warning would cut a result line in two.
		if err := logger.SetupLogging(&logger.Config{Quiet: true}); err != nil {
			fmt.Fprintf(os.Stderr, "setting up logging: %v\n", err)
			os.Exit(2)
		}
	}
	code := m.Run()
	pool.endAll()
	os.Exit(code)
}

func benchmarking() bool {
	f := flag.Lookup("test.bench")
	return f != nil && f.Value.String() != ""
}

// runIsolated runs this test binary again as PID 1 of a new PID namespace,
// in a new mount namespace (Go makes its mounts private) where it mounts its
// own /proc. When the copy exits, the kernel kills whatever is left in its
// namespace; Pdeathsig ends the copy if this process dies first.
func runIsolated() int {
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), isolatedEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:   syscall.CLONE_NEWPID,
		Unshareflags: syscall.CLONE_NEWNS,
		Pdeathsig:    syscall.SIGKILL,
	}
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode()
	default:
		fmt.Fprintf(os.Stderr, "running the benchmarks in a PID namespace: %v\n", err)
		return 2
	}
}
