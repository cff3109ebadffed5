package e2e

import (
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
	"github.com/procblocking/procblocking/internal/testkit/proxytest"
)

// The alerts as a reader gets them, under both ways of running the watchdog:
// the custom binary, and a stock Telegraf running the README's execd tables.

// watchdogRun is a running watchdog of either kind.
type watchdogRun interface {
	requireRunning()
	stop()
	// log is everything the agent (and its shims) logged so far.
	log() string
}

// pluginTables are the three plugins' tables of a run; /var/lib/procblocking
// in them stands for the run's own state directory.
type pluginTables struct {
	input, processor, output string
}

// startWatchdog starts a watchdog of one kind with the tables.
type startWatchdog func(t *testing.T, host string, tables pluginTables) watchdogRun

// customRun is the custom binary with the tables in one config file.
type customRun struct {
	t    *testing.T
	proc *proctest.Proc
}

func startCustom(t *testing.T, host string, tables pluginTables) watchdogRun {
	t.Helper()
	bin := buildBinary(t, "telegraf-procblocking")
	dir := t.TempDir()
	conf := fmt.Sprintf(`[agent]
  interval = "1s"
  flush_interval = "1s"
  hostname = %q
  skip_processors_after_aggregators = true

%s
%s
%s`, host, tables.input, tables.processor, tables.output)
	conf = strings.ReplaceAll(conf, shippedStateDir, filepath.Join(dir, "state"))
	path := filepath.Join(dir, "telegraf.conf")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
	return &customRun{t: t, proc: proctest.Start(t, []string{"TELEGRAM_BOT_TOKEN=" + e2eToken}, bin, "--config", path)}
}

func (r *customRun) requireRunning() {
	r.t.Helper()
	require.False(r.t, r.proc.Exited(), "the agent exited: %v\n%s", r.proc.Err(), r.proc.Stderr.String())
}

func (r *customRun) log() string { return r.proc.Stderr.String() }

func (r *customRun) stop() {
	r.t.Helper()
	require.NoError(r.t, r.proc.Cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(r.t, r.proc.Wait(r.t, 60*time.Second), r.proc.Stderr.String())
	require.NotContains(r.t, r.proc.Stderr.String(), strings.SplitN(e2eToken, ":", 2)[1], "the token leaked into the log")
}

func startStock(t *testing.T, host string, tables pluginTables) watchdogRun {
	t.Helper()
	agent, _ := startStockWatchdog(t, host, map[string]string{
		"procblocking-execd": tables.input,
		"alertstate-execd":   tables.processor,
		"telegram-execd":     tables.output,
	})
	return stockRun{agent}
}

// stockRun checks the log of every run of a stock Telegraf when it stops.
type stockRun struct{ *stockAgent }

func (r stockRun) log() string { return strings.Join(r.logs, "\n") + r.proc.Stderr.String() }

func (r stockRun) stop() {
	r.t.Helper()
	r.stockAgent.stop()
	for _, log := range r.logs {
		require.NotContains(r.t, log, strings.SplitN(e2eToken, ":", 2)[1], "the token leaked into the log")
	}
}

var watchdogKinds = map[string]startWatchdog{"custom binary": startCustom, "stock Telegraf": startStock}

// job is a pytest-xdist job in its own PID namespace: a controller whose
// parent is the namespace's init (as under a container's tini once the
// agent that started it was killed) and a worker it started as execnet
// starts one, `python -u -c "import sys;exec(eval(sys.stdin.readline()))"`,
// reading its code from its stdin; the worker matches no pattern.
type job struct {
	top, worker int
}

// execnetWorker is a pytest-xdist worker's command line after its
// interpreter.
const execnetWorker = "-u -c import sys;exec(eval(sys.stdin.readline()))"

// systemPython is the interpreter a test run uses: the system's, not a
// version manager's shim, which would exec another under another name.
func systemPython(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	python, err := exec.LookPath("python3")
	require.NoError(t, err)
	return python
}

func startJob(t *testing.T, marker string) *job {
	t.Helper()
	if !isRoot() {
		t.Skip("a job in its own PID namespace needs root (make test runs as root)")
	}
	topArgv := "python3 -m pytest tests/test_" + marker + ".py -n 1"
	python := systemPython(t)
	// The names travel in the environment: in the shells' argv they would
	// make the shells match too.
	env := []string{"JOB_TOP=" + topArgv, "JOB_PYTHON=" + python,
		"JOB_WORKER_ARG=import sys;exec(eval(sys.stdin.readline()))", `JOB_WORKER_CODE="import time; time.sleep(3600)"`}
	inner := `( exec -a "$JOB_TOP" bash -c '"$JOB_PYTHON" -u -c "$JOB_WORKER_ARG" <<< "$JOB_WORKER_CODE" & wait' ) & exec -a 'tini -- job' sleep 3600`
	proctest.Start(t, env, "unshare", "--pid", "--fork", "--kill-child", "bash", "-c", inner)
	j := &job{}
	proctest.WaitFor(t, 60*time.Second, "the job's two processes", func() bool {
		j.top = findByArgv0(topArgv)
		j.worker = 0
		if j.top > 0 {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", j.top, j.top))
			if kids := strings.Fields(string(b)); len(kids) == 1 {
				j.worker, _ = strconv.Atoi(kids[0])
			}
		}
		if j.worker == 0 {
			return false
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", j.worker))
		return strings.ReplaceAll(strings.TrimSuffix(string(cmdline), "\x00"), "\x00", " ") == python+" "+execnetWorker
	})
	top, worker := j.top, j.worker
	t.Cleanup(func() {
		_ = syscall.Kill(top, syscall.SIGKILL)
		_ = syscall.Kill(worker, syscall.SIGKILL)
	})
	return j
}

// englishWords are words of the English templates no Russian message has.
var englishWords = regexp.MustCompile(`\b(Blocking|blocking|running|orphaned|recovered|Command|Parent|alert|ended)\b`)

// One stuck job of two processes, a pytest-xdist controller and its worker
// (which matches no pattern), is one alert naming both; its realert and its
// recovery reply to that alert; the worker, outliving the controller,
// belongs to no job and raises nothing. Every message is wholly Russian,
// keeps the reference watchdog's words, and reaches an HTTPS Bot API through
// a forward proxy that wants credentials.
func TestOneJobOneThreadInRussianThroughAProxy(t *testing.T) {
	t.Parallel()
	for name, start := range watchdogKinds {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tg := botapitest.NewTLS(t, e2eToken)
			proxy := proxytest.New(t, "alerts:s3cret")
			ca := filepath.Join(t.TempDir(), "ca.pem")
			require.NoError(t, os.WriteFile(ca, certificatePEM(tg), 0o600))
			marker := newMarker("thread")
			j := startJob(t, marker)

			run := start(t, "thread-"+marker, pluginTables{
				input: fmt.Sprintf("[[inputs.procblocking]]\n  patterns = [%q]\n", marker),
				processor: "[[processors.alertstate]]\n  threshold = \"2s\"\n  cooldown = \"8s\"\n  group_interval = \"0s\"\n" +
					"  language = \"ru\"\n  state_file = \"/var/lib/procblocking/alertstate.json\"\n",
				output: fmt.Sprintf("[[outputs.telegram]]\n  namepass = [\"procblocking_alert\"]\n  token = \"${TELEGRAM_BOT_TOKEN}\"\n"+
					"  chat_id = \"-100123\"\n  api_url = %q\n  http_proxy_url = %q\n  tls_ca = %q\n"+
					"  state_directory = \"/var/lib/procblocking/telegram\"\n  edit_alert_on_recovery = true\n",
					tg.URL(), strings.Replace(proxy.URL, "http://", "http://alerts:s3cret@", 1), ca),
			})
			await := func(what string, cond func([]botapitest.Message) bool) []botapitest.Message {
				t.Helper()
				var msgs []botapitest.Message
				proctest.WaitFor(t, 60*time.Second, what, func() bool {
					run.requireRunning()
					msgs = tg.Messages()
					return cond(msgs)
				})
				return msgs
			}
			visible := func(m botapitest.Message) string { return botapitest.VisibleText(m.Text, m.ParseMode) }
			top, worker := strconv.Itoa(j.top), strconv.Itoa(j.worker)

			msgs := await("the alert", func(ms []botapitest.Message) bool { return count(ms, "alert") >= 1 })
			alert := msgs[0]
			require.Equal(t, "alert", botapitest.EventKind(alert.Text), visible(alert))
			require.Zero(t, alert.ReplyTo)
			text := visible(alert)
			// The reference watchdog's words (its TC-01): "Блокирующий процесс",
			// the PID, the age in seconds, the command line and "CPU".
			for _, want := range []string{"Блокирующий процесс", "PID " + top, "CPU", "сирота: да", "python3 -m pytest tests/test_" + marker} {
				require.Contains(t, text, want)
			}
			require.Regexp(t, `\(\d+ с\)|\d+ с`, text, "the age in seconds")
			require.Contains(t, text, "PID "+worker, "the worker is named in its job's alert")

			msgs = await("the realert", func(ms []botapitest.Message) bool { return count(ms, "realert") >= 1 })
			require.Equal(t, 1, count(msgs, "alert"), "one alert for the job of two processes")
			for _, m := range msgs {
				if botapitest.EventKind(m.Text) == "realert" {
					require.Equal(t, alert.MessageID, m.ReplyTo, "a realert replies to its alert")
				}
			}

			// The controller dies: the job recovers; the worker, matching
			// nothing, is in no job (counted at the end: no second alert).
			proctest.KillAndWait(t, j.top)
			msgs = await("the job's recovery", func(ms []botapitest.Message) bool { return count(ms, "recovery") >= 1 })
			var last botapitest.Message
			for _, m := range msgs {
				if botapitest.EventKind(m.Text) == "recovery" {
					last = m
				}
			}
			require.Equal(t, alert.MessageID, last.ReplyTo, "the recovery replies to its alert")
			require.Contains(t, visible(last), "PID "+top)
			// The reference's TC-05 words.
			require.Contains(t, visible(last), "восстановление")
			require.Contains(t, visible(last), "Блокирующий")
			proctest.KillAndWait(t, j.worker)
			run.stop()

			msgs = tg.Messages()
			for _, m := range msgs {
				t.Logf("message %d (reply to %d):\n%s", m.MessageID, m.ReplyTo, visible(m))
			}
			require.Equal(t, 1, count(msgs, "alert"), "%v", botapitest.EventKinds(msgs))
			require.Equal(t, 1, count(msgs, "recovery"), "%v", botapitest.EventKinds(msgs))
			for _, m := range msgs {
				require.NotRegexp(t, englishWords, visible(m), "a message in two languages")
			}
			require.NotEmpty(t, proxy.Tunnels(), "through the proxy")
			// edit_alert_on_recovery marks each job's alert resolved in place.
			for _, m := range msgs {
				if botapitest.EventKind(m.Text) == "alert" {
					require.True(t, strings.HasPrefix(botapitest.VisibleText(m.EditedText, m.ParseMode), "✅ "), "the alert edited on recovery: %q", m.EditedText)
				}
			}
		})
	}
}

// burstSize is how many jobs an orchestrator's death orphans at once in
// TestBurstInAHandfulOfMessages.
const burstSize = 300

// pidsIn counts the PIDs of set that text names.
func pidsIn(text string, set map[string]bool, seen map[string]int) {
	for _, n := range regexp.MustCompile(`\d+`).FindAllString(text, -1) {
		if set[n] {
			seen[n]++
		}
	}
}

// 300 jobs, started over several seconds, cross the threshold over several
// scans: they reach a group chat in a handful of messages, every PID in
// exactly one alert; their recoveries likewise.
func TestBurstInAHandfulOfMessages(t *testing.T) {
	t.Parallel()
	for name, start := range watchdogKinds {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tg := botapitest.New(t, e2eToken)
			// Letters only: no digit of the command line can pass for a PID.
			marker := strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return 'a' + (r - '0')
				}
				return r
			}, newMarker("burst"))
			argv := "python3 -m pytest tests/test_" + marker + ".py"
			pids := map[string]bool{}
			for range burstSize {
				p := proctest.Start(t, []string{"ARGV0=" + argv}, "bash", "-c", `exec -a "$ARGV0" sleep 3600`)
				pids[strconv.Itoa(p.PID())] = true
				time.Sleep(20 * time.Millisecond) // spread over about six seconds
			}
			run := start(t, "burst-"+marker, pluginTables{
				input: fmt.Sprintf("[[inputs.procblocking]]\n  patterns = [%q]\n", marker),
				processor: "[[processors.alertstate]]\n  threshold = \"3s\"\n  cooldown = \"1h\"\n  group_interval = \"10s\"\n" +
					"  state_file = \"/var/lib/procblocking/alertstate.json\"\n",
				output: fmt.Sprintf("[[outputs.telegram]]\n  namepass = [\"procblocking_alert\"]\n  token = \"${TELEGRAM_BOT_TOKEN}\"\n"+
					"  chat_id = \"-100123\"\n  api_url = %q\n  state_directory = \"/var/lib/procblocking/telegram\"\n", tg.URL()),
			})
			accounted := func(kind string) (map[string]int, int) {
				seen := map[string]int{}
				messages := 0
				for _, m := range tg.Messages() {
					if botapitest.EventKind(m.Text) == kind {
						messages++
						pidsIn(botapitest.VisibleText(m.Text, m.ParseMode), pids, seen)
					}
				}
				return seen, messages
			}
			for _, kind := range []string{"alert", "recovery"} {
				began := time.Now()
				proctest.WaitFor(t, 3*time.Minute, "every PID in a "+kind, func() bool {
					run.requireRunning()
					seen, _ := accounted(kind)
					return len(seen) == burstSize
				})
				seen, messages := accounted(kind)
				t.Logf("%d jobs: %d %s message(s) within %s", burstSize, messages, kind, time.Since(began).Round(time.Second))
				for pid, n := range seen {
					require.Equal(t, 1, n, "PID %s in %d %s messages", pid, n, kind)
				}
				require.LessOrEqual(t, messages, 10, "a handful of messages, not one per job")
				// A backlog is one episode in the log, not a line a second.
				require.NotContains(t, run.log(), "did not complete within its flush interval")
				require.LessOrEqual(t, strings.Count(run.log(), "is backed up"), 2, run.log())
				if kind == "alert" {
					for pid := range pids {
						n, _ := strconv.Atoi(pid)
						_ = syscall.Kill(n, syscall.SIGKILL)
					}
				}
			}
			run.stop()
		})
	}
}

// certificatePEM is the TLS Bot API's certificate, for tls_ca.
func certificatePEM(tg *botapitest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tg.Certificate().Raw})
}
