package e2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/botapitest"
	"github.com/procblocking/procblocking/internal/proctest"
)

// shimProc is an execd shim driven as Telegraf's execd plugins drive it:
// line protocol (or newlines, for an input) on stdin, line protocol on stdout.
type shimProc struct {
	*proctest.Proc
	stdin io.WriteCloser
}

func startShim(t *testing.T, env []string, name, config string) *shimProc {
	t.Helper()
	bin := buildBinary(t, name)
	conf := filepath.Join(t.TempDir(), "plugin.conf")
	require.NoError(t, os.WriteFile(conf, []byte(config), 0o600))

	cmd := exec.Command(bin, "--config", conf)
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	return &shimProc{Proc: proctest.StartCmd(t, cmd), stdin: stdin}
}

func (s *shimProc) send(t *testing.T, text string) {
	t.Helper()
	_, err := io.WriteString(s.stdin, text)
	require.NoError(t, err)
}

// output is the complete lines the shim wrote so far.
func (s *shimProc) output() []string { return s.Stdout.Lines() }

func withPrefix(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

func TestInputShim(t *testing.T) {
	marker := fmt.Sprintf("shim%dx%d", os.Getpid(), time.Now().UnixNano()%1_000_000)
	child := exec.Command("bash", "-c", `exec -a "$ARGV0" sleep 300`)
	child.Env = append(os.Environ(), "ARGV0=python3 -m pytest tests/test_"+marker+".py")
	require.NoError(t, child.Start())
	pid := child.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_ = child.Wait()
	})
	proctest.WaitFor(t, 10*time.Second, "the child's argv", func() bool { return findByMarker(marker) == pid })

	s := startShim(t, nil, "procblocking-execd", fmt.Sprintf("[[inputs.procblocking]]\n  patterns = [%q]\n", marker))
	// signal = "STDIN": each newline is one scan; nothing is gathered before.
	time.Sleep(300 * time.Millisecond)
	require.Empty(t, s.output(), "the shim gathered without being asked")
	for scan := 1; scan <= 2; scan++ {
		s.send(t, "\n")
		proctest.WaitFor(t, 10*time.Second, fmt.Sprintf("scan %d on stdout", scan), func() bool {
			return len(withPrefix(s.output(), "procblocking_scan")) == scan
		})
	}
	procs := withPrefix(s.output(), "procblocking,")
	require.Len(t, procs, 2, s.output())
	for _, l := range procs {
		require.Contains(t, l, fmt.Sprintf("procblocking,pattern=%s,pid=%d ", marker, pid))
		require.Contains(t, l, "orphan=false")
		require.Contains(t, l, fmt.Sprintf(`cmdline="python3 -m pytest tests/test_%s.py 300"`, marker))
	}
	// cpu_usage needs a previous gather of the same process.
	require.NotContains(t, procs[0], "cpu_usage=")
	require.Contains(t, procs[1], "cpu_usage=")
	require.Contains(t, withPrefix(s.output(), "procblocking_scan")[0], "ok=true")

	require.NoError(t, s.stdin.Close())
	require.NoError(t, s.Wait(t, 10*time.Second), s.Stderr.String())
}

func TestProcessorShim(t *testing.T) {
	state := filepath.Join(t.TempDir(), "alertstate.json")
	s := startShim(t, nil, "alertstate-execd", alertStateTable("3s", "6s", state))

	const t0 = int64(1_800_000_000_000_000_000)
	created := t0 - 10_000_000_000
	proc := func(ts int64, age float64) string {
		return fmt.Sprintf("procblocking,host=h1,pattern=pytest,pid=4242 age_seconds=%g,cpu_seconds=1.5,created_at=%di,"+
			"ppid=1i,orphan=true,state=\"S\",comm=\"python3\",threads=1i,rss_bytes=1000i,cmdline=\"python3 -m pytest tests/x.py\" %d\n",
			age, created, ts)
	}
	scan := func(ts int64, matched int) string {
		return fmt.Sprintf("procblocking_scan,host=h1 processes=100i,matched=%di,errors=0i,duration_ms=1.5,ok=true %d\n", matched, ts)
	}

	s.send(t, proc(t0, 10)+scan(t0, 1))
	proctest.WaitFor(t, 10*time.Second, "the alert event", func() bool { return len(withPrefix(s.output(), "procblocking_alert,")) == 1 })
	alert := withPrefix(s.output(), "procblocking_alert,")[0]
	require.Contains(t, alert, "event=alert")
	require.Contains(t, alert, "pid=4242")
	require.Contains(t, alert, "host=h1")
	// The input metrics pass through unchanged for the history.
	proctest.WaitFor(t, 10*time.Second, "the metrics passed through", func() bool {
		return len(withPrefix(s.output(), "procblocking,")) == 1 && len(withPrefix(s.output(), "procblocking_scan,")) == 1
	})
	require.Equal(t, strings.TrimSpace(proc(t0, 10)), withPrefix(s.output(), "procblocking,")[0])
	// The shim never writes Telegraf's statefile: alertstate's own file is there.
	proctest.WaitFor(t, 10*time.Second, "alertstate's state file", func() bool { _, err := os.Stat(state); return err == nil })

	// Within the cooldown: nothing; the process gone: one recovery.
	s.send(t, proc(t0+2e9, 12)+scan(t0+2e9, 1))
	s.send(t, scan(t0+4e9, 0))
	proctest.WaitFor(t, 10*time.Second, "the recovery", func() bool { return len(withPrefix(s.output(), "procblocking_alert,")) == 2 })
	require.Contains(t, withPrefix(s.output(), "procblocking_alert,")[1], "event=recovery")

	require.NoError(t, s.stdin.Close())
	require.NoError(t, s.Wait(t, 10*time.Second), s.Stderr.String())
	require.Len(t, withPrefix(s.output(), "procblocking_alert,"), 2, s.output())
}

func TestOutputShim(t *testing.T) {
	const token = "987654:shim-token"
	tg := botapitest.New(t, token)
	s := startShim(t, []string{"SHIM_TELEGRAM_TOKEN=" + token}, "telegram-execd",
		fmt.Sprintf("[[outputs.telegram]]\n  token = \"${SHIM_TELEGRAM_TOKEN}\"\n  chat_id = \"-100777\"\n  api_url = %q\n", tg.URL()))

	ts := time.Now().UnixNano()
	s.send(t, fmt.Sprintf("procblocking_alert,event=alert,host=h1,pattern=pytest,pid=4242 message=\"ALERT: blocking process on h1\nPID 4242 <pytest> & co\",count=1i,pid=4242i %d\n", ts))
	s.send(t, fmt.Sprintf("procblocking_alert,event=recovery,host=h1,pattern=pytest,pid=4242 message=\"RECOVERY: blocking process on h1\",count=1i,pid=4242i %d\n", ts+1))
	// Closing stdin flushes what the shim holds, as when Telegraf stops.
	require.NoError(t, s.stdin.Close())
	require.NoError(t, s.Wait(t, 30*time.Second), s.Stderr.String())

	msgs := tg.Messages()
	require.Len(t, msgs, 2)
	require.Equal(t, "-100777", msgs[0].ChatID)
	require.Contains(t, msgs[0].Text, "ALERT: blocking process on h1")
	// HTML mode: the fake rejects unescaped markup, so arriving proves escaping.
	require.Contains(t, msgs[0].Text, "&lt;pytest&gt; &amp; co")
	// A message spanning lines, as all of alertstate's do, arrives whole.
	require.Contains(t, msgs[0].Text, "on h1\nPID 4242")
	require.Contains(t, msgs[1].Text, "RECOVERY")
	require.NotContains(t, s.Stderr.String(), token)
}
