// Package proctest runs the processes a test starts: it collects their
// output while they run and ends them by PID when the test ends, also when it
// fails, so that no test leaves a process behind.
package proctest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Buffer collects output written while a test reads it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines is the output so far, split into complete lines.
func (b *Buffer) Lines() []string {
	s := b.String()
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return strings.Split(s[:i], "\n")
	}
	return nil
}

// Proc is a process started by a test.
type Proc struct {
	Cmd    *exec.Cmd
	Stdout *Buffer
	Stderr *Buffer

	done chan struct{}
	err  error
}

// Start runs name with args and the test's environment plus env; the test's
// cleanup SIGKILLs it if it is still running.
func Start(tb testing.TB, env []string, name string, args ...string) *Proc {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	return StartCmd(tb, cmd)
}

// StartCmd starts a prepared command; its output goes to the Proc's buffers
// unless the command already has a destination for it.
func StartCmd(tb testing.TB, cmd *exec.Cmd) *Proc {
	tb.Helper()
	p := &Proc{Cmd: cmd, Stdout: &Buffer{}, Stderr: &Buffer{}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.Stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.Stderr
	}
	require.NoError(tb, cmd.Start())
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	pid := cmd.Process.Pid
	tb.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(pid, syscall.SIGKILL)
			<-p.done
		}
	})
	return p
}

func (p *Proc) PID() int { return p.Cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the process ended; nil while it runs.
func (p *Proc) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Wait waits for the process to exit and returns how it ended.
func (p *Proc) Wait(tb testing.TB, within time.Duration) error {
	tb.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(within):
		tb.Fatalf("%s did not exit within %s\nstderr:\n%s", p.Cmd.Path, within, p.Stderr.String())
		return nil
	}
}

// Kill SIGKILLs the process and reaps it.
func (p *Proc) Kill(tb testing.TB) {
	tb.Helper()
	require.NoError(tb, syscall.Kill(p.PID(), syscall.SIGKILL))
	<-p.done
}

// WaitFor polls cond every 50 ms until it holds, failing the test after
// within.
func WaitFor(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	WaitEvery(tb, within, 50*time.Millisecond, what, cond)
}

// WaitEvery is WaitFor polling every interval: for a cond that costs, such
// as a container engine's command.
func WaitEvery(tb testing.TB, within, interval time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(interval)
	}
}

// GoBuild returns a `go build` with the flags `make build` uses (static,
// -trimpath) followed by args, run in dir: every binary the tests build then
// shares one build cache with `make build` and the image's build, which on a
// fresh machine saves compiling Telegraf's dependencies once per flag set.
func GoBuild(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("go", append([]string{"build", "-trimpath"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	return cmd
}

// Binary builds a binary of the module with GoBuild's flags and args (the
// package last), named name, and returns the path of a hard link to it (a
// copy across filesystems) in the checkout's bin/test/, as
// scripts/testbin.sh keeps the test binaries: built into a store of the
// machine's (~/.cache/procblocking/test-binaries) that outlives the run,
// where go build relinks a binary only when one of its inputs changed, and
// -trimpath keeps the checkout's path out of them. The packages that run
// the same binary share one link, and a run on a tree already tested,
// in this checkout or another, links nothing (a link of the watchdog is
// five seconds of CPU). A build of the same binary elsewhere waits here for
// this one, then finds it up to date.
func Binary(dir, name string, args ...string) (string, error) {
	local, err := BinaryDir(dir, append([]string{name}, args...)...)
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	store := filepath.Join(cache, "procblocking", "test-binaries", filepath.Base(local))
	if err := os.MkdirAll(store, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(store, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", err
	}
	defer func() { _ = lock.Close() }() // and with it the lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	built := filepath.Join(store, name)
	build := GoBuild(dir, append([]string{"-o", built}, args...)...)
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s (go build %s): %w\n%s", name, strings.Join(args, " "), err, out)
	}
	path := filepath.Join(local, name)
	return path, take(built, path)
}

// take makes dst the binary src, whole: go replaces a file of the store
// rather than rewriting it, so another checkout's build never changes what
// dst runs.
func take(src, dst string) error {
	if s, err := os.Stat(src); err == nil {
		if d, err := os.Stat(dst); err == nil && os.SameFile(s, d) {
			return nil // unchanged since the last run took it
		}
	}
	tmp := dst + ".new"
	_ = os.Remove(tmp)
	if err := os.Link(src, tmp); err != nil {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(tmp, data, 0o755); err != nil {
			return err
		}
	}
	return os.Rename(tmp, dst)
}

// BinaryDir returns a directory of the checkout's bin/test/ (git ignores
// bin/, the image's build context leaves it out) for binaries built in dir,
// a directory of the checkout, with key (its first word names the
// directory): the same dir and key, the same directory, in every package
// and every run.
func BinaryDir(dir string, key ...string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	root := abs
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			return "", fmt.Errorf("no go.mod in %s or above", dir)
		}
		root = parent
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(strings.Join(append([]string{rel}, key...), "\x00")))
	out := filepath.Join(root, "bin", "test", key[0]+"-"+hex.EncodeToString(sum[:6]))
	return out, os.MkdirAll(out, 0o755)
}

// FindByArgv0 returns the PID of a process whose argv[0] satisfies match,
// or 0: how a test finds a process started under a name of its own (exec -a)
// by a shell or in another namespace, where it knows no PID.
func FindByArgv0(match func(argv0 []byte) bool) int {
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
		if argv0, _, _ := bytes.Cut(b, []byte{0}); match(argv0) {
			return pid
		}
	}
	return 0
}

// KillAndWait SIGKILLs a process the test started, by its PID, and waits
// until it is gone: reaped, or a zombie (an init that does not reap keeps
// it), which the watchdog sees as gone too.
func KillAndWait(tb testing.TB, pid int) {
	tb.Helper()
	require.NoError(tb, syscall.Kill(pid, syscall.SIGKILL))
	WaitFor(tb, 10*time.Second, fmt.Sprintf("PID %d to be gone", pid), func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		return err != nil || bytes.Contains(b, []byte(") Z "))
	})
}
