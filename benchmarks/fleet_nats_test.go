//go:build linux

package benchmarks

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	serializer "github.com/influxdata/telegraf/plugins/serializers/influx"
	"github.com/nats-io/nats.go"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
)

// The alerter through NATS: the real binary on the shipped alerter.conf,
// reading a real nats-server's JetStream on loopback, talking to the Bot API
// stand-in. The benchmark publishes what 1,000 nodes on node.conf would (one
// message of influx line protocol per node and scan) at five times the
// speed of a 10 s interval, every node's 20 jobs alerted already (the
// state file the alerter starts from says so), and one new stuck job per
// interval on some node: its alert's way from the publish to the chat is
// the latency.
const (
	natsIntervals = 20                     // fleet intervals per run
	natsPace      = 2 * time.Second        // wall time per fleet interval
	natsToken     = "123456:bench-ABCDEFG" // the stand-in's bot token
	natsChat      = "4242"                 // a private chat: one message a second
)

// BenchmarkAlerterThroughNATS reports `core` (the alerter's CPU per second
// of fleet time), `peak-RSS-MB`, and the latency from publishing the message
// of a new stuck job to the Bot API stand-in receiving its alert
// (`p50-ms`, `p99-ms`), without a group window (group_interval = "0s"; the
// shipped one-minute window adds up to a minute to the alerts it holds).
func BenchmarkAlerterThroughNATS(b *testing.B) {
	if _, err := exec.LookPath("nats-server"); err != nil {
		b.Skipf("nats-server is not installed (scripts/install-test-deps.sh installs it): %v", err)
	}
	bin := filepath.Join(b.TempDir(), "telegraf-procblocking")
	build := exec.Command("go", "build", "-o", bin, "../cmd/telegraf-procblocking")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building the binary: %v\n%s", err, out)
	}
	for b.Loop() {
		runAlerterThroughNATS(b, bin)
	}
}

func runAlerterThroughNATS(b *testing.B, bin string) {
	b.StopTimer()
	dir := b.TempDir()
	url := startBenchNATS(b, filepath.Join(dir, "nats"))
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream(nats.PublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatal(err)
	}
	// The stream as node.conf's [outputs.nats.jetstream] makes it.
	if _, err := js.AddStream(&nats.StreamConfig{Name: "PROCBLOCKING", Subjects: []string{"procblocking"},
		Retention: nats.WorkQueuePolicy, Storage: nats.FileStorage, MaxAge: 24 * time.Hour, MaxBytes: 1 << 30}); err != nil {
		b.Fatal(err)
	}

	// The alerter's state: every node's 20 jobs alerted at t0, as the
	// processor itself writes it.
	t0 := time.Now().Truncate(time.Second)
	stateDir := filepath.Join(dir, "state")
	warm := loadProcessor(b, fmt.Sprintf(`
[[processors.alertstate]]
  threshold = "60m"
  cooldown = "30m"
  group_by = []
  group_interval = "0s"
  digest_after = 1
  state_file = %q
`, filepath.Join(stateDir, "alertstate.json")))
	warm.Apply(fleetGather(t0)...)

	tg := botapitest.New(b, natsToken)
	conf := shippedAlerterConf(b, dir)
	alerter := exec.Command(bin, "--config", conf)
	alerter.Env = append(os.Environ(), "NATS_URL="+url, "TELEGRAM_BOT_TOKEN="+natsToken, "TELEGRAM_CHAT_ID="+natsChat,
		"TELEGRAM_API_URL="+tg.URL(), "PROCBLOCKING_STATE_DIR="+stateDir)
	var stderr strings.Builder
	alerter.Stderr = &stderr
	if err := alerter.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = alerter.Process.Kill()
		_ = alerter.Wait()
	}()

	s := &serializer.Serializer{}
	if err := s.Init(); err != nil {
		b.Fatal(err)
	}
	publish := func(k int) (probeNode int, probeAt time.Time) {
		at := t0.Add(time.Duration(k) * fleetInterval)
		probeNode = (k * 37) % fleetNodes
		for n := range fleetNodes {
			// The same processes as at t0, older by now.
			ms := gatherMetrics(fleetProcs, t0)
			for _, m := range ms {
				m.SetTime(at)
				if age, ok := m.GetField("age_seconds"); ok {
					m.AddField("age_seconds", age.(float64)+at.Sub(t0).Seconds())
				}
			}
			// The probes go on running once started.
			for j := 1; j <= k; j++ {
				if (j*37)%fleetNodes == n {
					ms = slices.Insert(ms, fleetProcs, probeMetric(j, t0, at))
				}
			}
			for _, m := range ms {
				m.AddTag("host", "runner-"+strconv.Itoa(n))
			}
			data, err := s.SerializeBatch(ms)
			if err != nil {
				b.Fatal(err)
			}
			if n == probeNode {
				probeAt = time.Now()
			}
			if _, err := js.PublishAsync("procblocking", data); err != nil {
				b.Fatal(err)
			}
		}
		return probeNode, probeAt
	}

	// Interval 0 tells the alerter nothing new; once it has acknowledged
	// it, the alerter is up and its state loaded.
	publish(0)
	waitAcked(b, js, alerter, &stderr, 120*time.Second)

	seen := watchMessages(tg)
	defer seen.stop()
	cpu0, err := procCPU(alerter.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	sent := map[string]time.Time{}
	start := time.Now()
	for k := 1; k <= natsIntervals; k++ {
		time.Sleep(time.Until(start.Add(time.Duration(k-1) * natsPace)))
		_, at := publish(k)
		sent[probePID(k)] = at
	}
	waitAcked(b, js, alerter, &stderr, 120*time.Second)
	deadline := time.Now().Add(60 * time.Second)
	for len(seen.latencies(sent)) < natsIntervals {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d probe alerts reached the chat\n%s", len(seen.latencies(sent)), natsIntervals, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.StopTimer()
	cpu1, err := procCPU(alerter.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	lat := seen.latencies(sent)
	slices.Sort(lat)
	if n := len(tg.Messages()); n != natsIntervals {
		b.Fatalf("the chat got %d messages, want one alert per probe (%d)", n, natsIntervals)
	}
	b.ReportMetric((cpu1-cpu0).Seconds()/(float64(natsIntervals)*fleetInterval.Seconds()), "core")
	b.ReportMetric(float64(peakRSS(b, alerter.Process.Pid))/(1<<20), "peak-RSS-MB")
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99-1)/100].Milliseconds()), "p99-ms")
	b.StartTimer()
}

// probeMetric is the stuck job that starts being reported in interval k.
func probeMetric(k int, t0, at time.Time) telegraf.Metric {
	pid, _ := strconv.Atoi(probePID(k))
	created := t0.Add(time.Duration(k)*fleetInterval - 90*time.Minute)
	return metric.New("procblocking", map[string]string{"pattern": "pytest", "pid": probePID(k)}, map[string]any{
		"age_seconds": at.Sub(created).Seconds(), "created_at": created.UnixNano(), "ppid": int64(1), "orphan": true,
		"cmdline": "python3 -m pytest tests/probe_" + strconv.Itoa(k) + ".py", "job_pid": int64(pid), "job_created_at": created.UnixNano(),
	}, at)
}

func probePID(k int) string { return strconv.Itoa(900000 + k) }

// shippedAlerterConf is deploy/fleet/alerter.conf without a group window.
func shippedAlerterConf(b *testing.B, dir string) string {
	data, err := os.ReadFile("../deploy/fleet/alerter.conf")
	if err != nil {
		b.Fatal(err)
	}
	conf := strings.Replace(string(data), `group_interval = "1m"`, `group_interval = "0s"`, 1)
	if conf == string(data) {
		b.Fatal(`alerter.conf has no group_interval = "1m"`)
	}
	path := filepath.Join(dir, "alerter.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

func startBenchNATS(b *testing.B, store string) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	cmd := exec.Command("nats-server", "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-sd", store)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if nc, err := nats.Connect(url); err == nil {
			js, _ := nc.JetStream()
			_, err = js.AccountInfo()
			nc.Close()
			if err == nil {
				return url
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("nats-server did not serve JetStream within 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitAcked waits until the alerter's consumer has acknowledged every
// message of the stream.
func waitAcked(b *testing.B, js nats.JetStreamContext, alerter *exec.Cmd, stderr *strings.Builder, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		if alerter.ProcessState != nil {
			b.Fatalf("the alerter exited\n%s", stderr.String())
		}
		si, err1 := js.StreamInfo("PROCBLOCKING")
		ci, err2 := js.ConsumerInfo("PROCBLOCKING", "procblocking-alerter")
		if err1 == nil && err2 == nil && ci.AckFloor.Stream >= si.State.LastSeq {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the alerter did not acknowledge every message within %s\n%s", limit, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// chatWatch notes when each message first reached the stand-in.
type chatWatch struct {
	mu    sync.Mutex
	at    map[int]time.Time
	texts map[int]string
	done  chan struct{}
	wg    sync.WaitGroup
}

func watchMessages(tg *botapitest.Server) *chatWatch {
	w := &chatWatch{at: map[int]time.Time{}, texts: map[int]string{}, done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			msgs := tg.Messages()
			now := time.Now()
			w.mu.Lock()
			for i, m := range msgs {
				if _, ok := w.at[i]; !ok {
					w.at[i], w.texts[i] = now, m.Text
				}
			}
			w.mu.Unlock()
			select {
			case <-w.done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *chatWatch) stop() {
	close(w.done)
	w.wg.Wait()
}

// latencies are, for each probe whose alert arrived, the time from its
// publish to its arrival.
func (w *chatWatch) latencies(sent map[string]time.Time) []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Duration
	for i, text := range w.texts {
		for pid, at := range sent {
			if strings.Contains(text, "PID "+pid+" ") {
				out = append(out, w.at[i].Sub(at))
			}
		}
	}
	return out
}

// procCPU is the CPU time (user + system) a process has used.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parsing /proc/%d/stat: %q", pid, s)
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}

// peakRSS is the process's peak resident set size (VmHWM), in bytes.
func peakRSS(b *testing.B, pid int) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc/<pid>/status")
	return 0
}
