package e2e

import (
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/botapitest"
	"github.com/procblocking/procblocking/internal/proctest"
	"github.com/procblocking/procblocking/internal/proxytest"
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

// job is a pytest-xdist-like job in its own PID namespace: a controller
// whose parent is the namespace's init (as under a container's tini once the
// agent that started it was killed) and a worker it started.
type job struct {
	top, worker int
}

func startJob(t *testing.T, marker string) *job {
	t.Helper()
	if !isRoot() {
		t.Skip("a job in its own PID namespace needs root (make test runs as root)")
	}
	topArgv := "python3 -m pytest tests/test_" + marker + ".py -n 1"
	workerArgv := "python3 -m pytest tests/test_" + marker + ".py --worker gw0"
	// The names travel in the environment: in the shells' argv they would
	// make the shells match too.
	env := []string{"JOB_TOP=" + topArgv, "JOB_WORKER=" + workerArgv}
	inner := `( exec -a "$JOB_TOP" bash -c 'exec -a "$JOB_WORKER" sleep 3600 & wait' ) & exec -a 'tini -- job' sleep 3600`
	proctest.Start(t, env, "unshare", "--pid", "--fork", "--kill-child", "bash", "-c", inner)
	j := &job{}
	proctest.WaitFor(t, 10*time.Second, "the job's two processes", func() bool {
		j.top, j.worker = findByArgv0(topArgv), findByArgv0(workerArgv)
		return j.top > 0 && j.worker > 0
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

// One stuck job of two processes is one alert naming both; its realert and
// its recovery reply to that alert; its worker, outliving the controller,
// becomes a job and a thread of its own. Every message is wholly Russian,
// keeps the reference watchdog's words, and reaches an HTTPS Bot API through
// a forward proxy that wants credentials.
func TestOneJobOneThreadInRussianThroughAProxy(t *testing.T) {
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
			require.Equal(t, "alert", kindOf(alert.Text), visible(alert))
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
				if kindOf(m.Text) == "realert" {
					require.Equal(t, alert.MessageID, m.ReplyTo, "a realert replies to its alert")
				}
			}

			// The controller dies; the worker lives on and is a job of its own.
			proctest.KillAndWait(t, j.top)
			msgs = await("the controller's recovery and the worker's alert", func(ms []botapitest.Message) bool {
				return count(ms, "recovery") >= 1 && count(ms, "alert") >= 2
			})
			var workerAlert botapitest.Message
			for _, m := range msgs {
				switch kindOf(m.Text) {
				case "recovery":
					require.Equal(t, alert.MessageID, m.ReplyTo, "the recovery replies to its alert")
					require.Contains(t, visible(m), "PID "+top)
					// The reference's TC-05 words.
					require.Contains(t, visible(m), "восстановление")
					require.Contains(t, visible(m), "Блокирующий")
				case "alert":
					if m.MessageID != alert.MessageID {
						workerAlert = m
					}
				}
			}
			require.Zero(t, workerAlert.ReplyTo, "the worker's job is a thread of its own")
			require.Contains(t, visible(workerAlert), "PID "+worker)

			proctest.KillAndWait(t, j.worker)
			msgs = await("the worker's recovery", func(ms []botapitest.Message) bool { return count(ms, "recovery") >= 2 })
			last := msgs[len(msgs)-1]
			require.Equal(t, "recovery", kindOf(last.Text))
			require.Equal(t, workerAlert.MessageID, last.ReplyTo)
			run.stop()

			msgs = tg.Messages()
			for _, m := range msgs {
				t.Logf("message %d (reply to %d):\n%s", m.MessageID, m.ReplyTo, visible(m))
			}
			require.Equal(t, 2, count(msgs, "alert"), "%v", kinds(msgs))
			require.Equal(t, 2, count(msgs, "recovery"), "%v", kinds(msgs))
			for _, m := range msgs {
				require.NotRegexp(t, englishWords, visible(m), "a message in two languages")
			}
			require.NotEmpty(t, proxy.Tunnels(), "through the proxy")
			// edit_alert_on_recovery marks each job's alert resolved in place.
			for _, m := range msgs {
				if kindOf(m.Text) == "alert" {
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
	for name, start := range watchdogKinds {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tg := botapitest.New(t, e2eToken)
			// Letters only: no digit of the command line can pass for a PID.
			marker := "burst" + strings.Map(func(r rune) rune { return 'a' + (r-'0')%26 }, strconv.FormatInt(time.Now().UnixNano(), 10))
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
					if kindOf(m.Text) == kind {
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
