package e2e

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
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

// The protocol edges of the input shim that a run under Telegraf does not
// pin (TestStockTelegrafRunsTheREADMEExecdTables runs it under Telegraf):
// with signal = "STDIN" each complete line is one scan, a partial line none.
func TestInputShim(t *testing.T) {
	t.Parallel()
	s := startShim(t, nil, "procblocking-execd", "[[inputs.procblocking]]\n  patterns = [\"no-such-process-pattern\"]\n")
	scans := func() int { return len(withPrefix(s.output(), "procblocking_scan")) }

	s.send(t, "\n")
	proctest.WaitFor(t, 60*time.Second, "the first scan", func() bool { return scans() == 1 })
	// A partial line is no signal yet; its newline is one.
	s.send(t, "x")
	s.send(t, "\n\n")
	proctest.WaitFor(t, 60*time.Second, "two more scans", func() bool { return scans() == 3 })
	require.Contains(t, withPrefix(s.output(), "procblocking_scan")[0], "ok=true")

	// The end of stdin ends the shim, after no further scan.
	require.NoError(t, s.stdin.Close())
	require.NoError(t, s.Wait(t, 60*time.Second), s.Stderr.String())
	require.Equal(t, 3, scans(), s.output())
}

// The protocol edges of the processor shim that a run under Telegraf does not
// pin: a metric split across writes is one metric, the metrics pass through
// unchanged, and an event whose message spans lines is one metric to the
// stream parser that Telegraf's processors.execd reads the shim with.
func TestProcessorShim(t *testing.T) {
	t.Parallel()
	s := startShim(t, nil, "alertstate-execd", fmt.Sprintf(
		"[[processors.alertstate]]\n  threshold = \"3s\"\n  cooldown = \"6s\"\n  state_file = %q\n", filepath.Join(t.TempDir(), "alertstate.json")))

	const t0 = int64(1_800_000_000_000_000_000)
	proc := fmt.Sprintf("procblocking,host=h1,pattern=pytest,pid=4242 age_seconds=10,cpu_seconds=1.5,created_at=%di,"+
		"ppid=1i,orphan=true,state=\"S\",comm=\"python3\",threads=1i,rss_bytes=1000i,cmdline=\"python3 -m pytest tests/x.py\" %d\n",
		t0-10_000_000_000, t0)
	scan := fmt.Sprintf("procblocking_scan,host=h1 processes=100i,matched=1i,errors=0i,duration_ms=1.5,ok=true %d\n", t0)

	half := len(proc) / 2
	s.send(t, proc[:half])
	time.Sleep(100 * time.Millisecond) // let the shim read the first half alone
	s.send(t, proc[half:]+scan)
	proctest.WaitFor(t, 60*time.Second, "the metrics and the alert", func() bool {
		return len(withPrefix(s.output(), "procblocking_alert,")) == 1 && len(withPrefix(s.output(), "procblocking_scan,")) == 1
	})
	require.NoError(t, s.stdin.Close())
	require.NoError(t, s.Wait(t, 60*time.Second), s.Stderr.String())

	var got []telegraf.Metric
	parser := influx.NewStreamParser(strings.NewReader(s.Stdout.String()))
	for {
		m, err := parser.Next()
		if errors.Is(err, influx.EOF) {
			break
		}
		require.NoError(t, err)
		got = append(got, m)
	}
	require.Len(t, got, 3, s.Stdout.String())
	var passed, events []telegraf.Metric
	for _, m := range got {
		if m.Name() == "procblocking_alert" {
			events = append(events, m)
		} else {
			passed = append(passed, m)
		}
	}
	inParser := &influx.Parser{}
	require.NoError(t, inParser.Init())
	want, err := inParser.Parse([]byte(proc + scan))
	require.NoError(t, err)
	testutil.RequireMetricsEqual(t, want, passed)
	require.Len(t, events, 1)
	require.Equal(t, map[string]string{"event": "alert", "host": "h1", "pattern": "pytest", "pid": "4242"}, events[0].Tags())
	message, _ := events[0].GetField("message")
	require.Contains(t, message, "\n", "the message spans lines")
}

func TestOutputShim(t *testing.T) {
	t.Parallel()
	const token = "987654:shim-token"
	tg := botapitest.New(t, token)
	s := startShim(t, []string{"SHIM_TELEGRAM_TOKEN=" + token}, "telegram-execd",
		fmt.Sprintf("[[outputs.telegram]]\n  token = \"${SHIM_TELEGRAM_TOKEN}\"\n  chat_id = \"-100777\"\n  api_url = %q\n", tg.URL()))

	ts := time.Now().UnixNano()
	s.send(t, fmt.Sprintf("procblocking_alert,event=alert,host=h1,pattern=pytest,pid=4242 message=\"🚨 Blocking process on h1\nPID 4242 <pytest> & co\",count=1i,alert_id=\"00000000000a4242\" %d\n", ts))
	s.send(t, fmt.Sprintf("procblocking_alert,event=recovery,host=h1,pattern=pytest,pid=4242 message=\"✅ Blocking process on h1 is gone\",count=1i,alert_id=\"00000000000a4242\" %d\n", ts+1))
	// Closing stdin makes the shim deliver what it holds and exit, as when
	// Telegraf stops.
	require.NoError(t, s.stdin.Close())
	require.NoError(t, s.Wait(t, 60*time.Second), s.Stderr.String())

	msgs := tg.Messages()
	require.Len(t, msgs, 2)
	require.Equal(t, "-100777", msgs[0].ChatID)
	// The first line bold, the rest escaped: the fake refuses unescaped
	// markup, so arriving proves escaping; a message spanning lines, as all
	// of alertstate's do, arrives whole.
	require.Equal(t, "<b>🚨 Blocking process on h1</b>\nPID 4242 &lt;pytest&gt; &amp; co", msgs[0].Text)
	require.Equal(t, "<b>✅ Blocking process on h1 is gone</b>", msgs[1].Text)
	require.Equal(t, msgs[0].MessageID, msgs[1].ReplyTo, "the recovery replies to its alert")
	require.NotContains(t, s.Stderr.String(), token)
}
