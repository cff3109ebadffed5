package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

// The fleet tests' harness: a real nats-server, fake /proc trees for the
// nodes, and the fleet of agents on the shipped configs.

// The names the shipped configs give the stream and the alerter's durable
// consumer.
const (
	fleetStream   = "PROCBLOCKING"
	fleetConsumer = "procblocking-alerter"
	fleetSubject  = "procblocking"
)

// natsServer is a real nats-server with JetStream on 127.0.0.1, its store in
// a temp dir that outlives a restart.
type natsServer struct {
	dir  string
	port int
	proc *proctest.Proc
}

func startNATS(t *testing.T) *natsServer {
	t.Helper()
	if _, err := exec.LookPath("nats-server"); err != nil {
		if !isRoot() {
			t.Skipf("nats-server is not installed and this is not root (make test installs it as root): %v", err)
		}
		t.Fatalf("nats-server is not installed: run `make test-deps` (scripts/install-test-deps.sh): %v", err)
	}
	n := &natsServer{dir: t.TempDir()}
	n.start(t)
	return n
}

func (n *natsServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

// start starts the server: on a port the kernel chooses the first time
// (-1), on the same port again after a stop, where the nodes look for it.
func (n *natsServer) start(t *testing.T) {
	t.Helper()
	port := -1
	if n.port != 0 {
		port = n.port
	}
	n.proc = proctest.Start(t, nil, "nats-server", "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-sd", n.dir)
	n.port = listeningPort(t, n.proc, "nats-server", "Listening for client connections on ")
	proctest.WaitFor(t, 60*time.Second, "nats-server to serve JetStream", func() bool {
		require.False(t, n.proc.Exited(), "nats-server exited: %v\n%s", n.proc.Err(), n.proc.Stderr.String())
		nc, err := nats.Connect(n.url(), nats.Timeout(time.Second))
		if err != nil {
			return false
		}
		defer nc.Close()
		js, err := nc.JetStream()
		if err != nil {
			return false
		}
		_, err = js.AccountInfo()
		return err == nil
	})
}

// stop ends the server by its PID, as an operator's restart does.
func (n *natsServer) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, syscall.Kill(n.proc.PID(), syscall.SIGTERM))
	_ = n.proc.Wait(t, 60*time.Second)
}

// fakeProc is a /proc tree the tests write: a boot time, an init, and the
// pytest processes they add and remove. Each change is one rename, so a scan
// sees a process whole or not at all.
type fakeProc struct {
	root string
}

func newFakeProc(t *testing.T) *fakeProc {
	t.Helper()
	p := &fakeProc{root: t.TempDir()}
	for _, f := range []string{"stat", "uptime"} {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "proc_basic", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(p.root, f), data, 0o644))
	}
	p.add(t, 1, 0, "tini", "/sbin/tini -- agent", 5)
	return p
}

// addJob adds a pytest run as an orphan of the init: a job of its own,
// years old by the tree's boot time, so blocking at the first scan.
func (p *fakeProc) addJob(t *testing.T, pid int, test string) string {
	t.Helper()
	cmdline := "python3 -m pytest " + test
	p.add(t, pid, 1, "python3", cmdline, 100+pid)
	return cmdline
}

func (p *fakeProc) add(t *testing.T, pid, ppid int, comm, cmdline string, startTicks int) {
	t.Helper()
	tmp, err := os.MkdirTemp(p.root, ".new-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(tmp, 0o755))
	stat := fmt.Sprintf("%d (%s) S %d 0 0 0 0 0 0 0 0 0 250 50 0 0 0 0 1 0 %d 123456789 2560%s\n",
		pid, comm, ppid, startTicks, strings.Repeat(" 0", 27))
	status := fmt.Sprintf("Name:\t%s\nState:\tS (sleeping)\nTgid:\t%d\nPid:\t%d\nPPid:\t%d\nNSpid:\t%d\nThreads:\t1\n", comm, pid, pid, ppid, pid)
	files := map[string]string{
		"stat":    stat,
		"status":  status,
		"cmdline": strings.ReplaceAll(cmdline, " ", "\x00") + "\x00",
		"cgroup":  "0::/\n",
	}
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(tmp, name), []byte(content), 0o644))
	}
	require.NoError(t, os.Rename(tmp, filepath.Join(p.root, strconv.Itoa(pid))))
}

func (p *fakeProc) remove(t *testing.T, pid int) {
	t.Helper()
	gone := filepath.Join(p.root, fmt.Sprintf(".gone-%d", pid))
	require.NoError(t, os.Rename(filepath.Join(p.root, strconv.Itoa(pid)), gone))
	require.NoError(t, os.RemoveAll(gone))
}

// shippedFleetConf returns deploy/fleet/<name> with each old string (which
// must occur exactly once) replaced by its new one, and extra appended.
func shippedFleetConf(t *testing.T, name string, replace map[string]string, extra string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "deploy", "fleet", name))
	require.NoError(t, err)
	conf := string(data)
	for old, repl := range replace {
		require.Equal(t, 1, strings.Count(conf, old), "%s: %q", name, old)
		conf = strings.Replace(conf, old, repl, 1)
	}
	return conf + extra
}

// watchFile is an [[outputs.file]] table writing the given measurements in
// line protocol.
func watchFile(path string, measurements ...string) string {
	return fmt.Sprintf(`
[[outputs.file]]
  namepass = ["%s"]
  files = [%q]
  data_format = "influx"
  flush_interval = "1s"
`, strings.Join(measurements, `", "`), path)
}

// fleetNode is one node agent on the shipped node.conf.
type fleetNode struct {
	name  string
	proc  *fakeProc
	out   string // the scans and processes it gathered
	conf  string
	env   []string
	agent *proctest.Proc
}

// fleetScan is one scan of one node: its time and the PIDs it reported.
type fleetScan struct {
	time time.Time
	pids []string
}

// scans reads the scans a node gathered, or the alerter received, by host.
func scansByHost(t *testing.T, path string) map[string][]fleetScan {
	t.Helper()
	out := map[string][]fleetScan{}
	pending := map[string][]string{}
	for _, m := range readMetrics(t, path) {
		host, _ := m.GetTag("host")
		switch m.Name() {
		case "procblocking":
			pid, _ := m.GetTag("pid")
			pending[host] = append(pending[host], pid)
		case "procblocking_scan":
			out[host] = append(out[host], fleetScan{time: m.Time(), pids: pending[host]})
			pending[host] = nil
		}
	}
	return out
}

// fleet is the whole setup of one test.
type fleet struct {
	nats    *natsServer
	tg      *botapitest.Server
	bin     string
	nodes   []*fleetNode
	alerter *proctest.Proc
	aConf   string
	aEnv    []string
	aOut    string // the scans and events the alerter handled
	aState  string // the alerter's PROCBLOCKING_STATE_DIR

	nc *nats.Conn
	js nats.JetStreamContext

	mu        sync.Mutex
	published map[string][]fleetScan // by host, as seen on the subject
}

// startFleet starts the fleet with no group window (each alert at once),
// and silent_after far beyond what its steps take however loaded the
// machine is: TestFleetIncidentSilenceAndReplay tests silence.
func startFleet(t *testing.T, names ...string) *fleet {
	t.Helper()
	return startFleetWith(t, map[string]string{
		`group_interval = "1m"`: `group_interval = "0s"`,
		`silent_after = "2m"`:   `silent_after = "10m"`,
	}, names...)
}

// startFleetWith starts nats-server, a node agent per name, and the
// alerter on the shipped alerter.conf with each old string replaced by its
// new one.
func startFleetWith(t *testing.T, alerter map[string]string, names ...string) *fleet {
	t.Helper()
	f := &fleet{bin: buildBinary(t, "telegraf-procblocking"), published: map[string][]fleetScan{}}
	f.nats = startNATS(t)
	f.tg = botapitest.New(t, e2eToken)

	// The test's own connection sees every message the nodes publish (a
	// JetStream publish is a NATS publish on the subject) without taking
	// any from the alerter's consumer.
	nc, err := nats.Connect(f.nats.url(), nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	f.nc = nc
	f.js, err = nc.JetStream()
	require.NoError(t, err)
	parser := &influx.Parser{}
	require.NoError(t, parser.Init())
	_, err = nc.Subscribe(fleetSubject, func(msg *nats.Msg) {
		ms, err := parser.Parse(msg.Data)
		if err != nil {
			t.Errorf("a node published what the alerter cannot parse: %v\n%s", err, msg.Data)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		pending := map[string][]string{}
		for _, m := range ms {
			host, _ := m.GetTag("host")
			switch m.Name() {
			case "procblocking":
				pid, _ := m.GetTag("pid")
				pending[host] = append(pending[host], pid)
			case "procblocking_scan":
				f.published[host] = append(f.published[host], fleetScan{time: m.Time(), pids: pending[host]})
				pending[host] = nil
			}
		}
	})
	require.NoError(t, err)
	require.NoError(t, nc.Flush())

	for _, name := range names {
		dir := t.TempDir()
		n := &fleetNode{name: name, proc: newFakeProc(t), out: filepath.Join(dir, "node.out")}
		n.conf = filepath.Join(dir, "node.conf")
		conf := shippedFleetConf(t, "node.conf", map[string]string{`interval = "30s"`: `interval = "1s"`},
			watchFile(n.out, "procblocking", "procblocking_scan"))
		require.NoError(t, os.WriteFile(n.conf, []byte(conf), 0o600))
		n.env = []string{"NATS_URL=" + f.nats.url(), "NODE_NAME=" + name, "HOST_PROC=" + n.proc.root,
			"PROCBLOCKING_STATE_DIR=" + filepath.Join(dir, "state")}
		f.nodes = append(f.nodes, n)
	}
	// The nodes create the stream the alerter's consumer reads.
	for _, n := range f.nodes {
		n.agent = proctest.Start(t, n.env, f.bin, "--config", n.conf)
	}
	proctest.WaitFor(t, 60*time.Second, "every node to publish a scan", func() bool {
		for _, n := range f.nodes {
			require.False(t, n.agent.Exited(), "node %s exited: %v\n%s", n.name, n.agent.Err(), n.agent.Stderr.String())
			if len(f.publishedScans(n.name)) == 0 {
				return false
			}
		}
		return true
	})

	dir := t.TempDir()
	f.aOut = filepath.Join(dir, "alerter.out")
	f.aConf = filepath.Join(dir, "alerter.conf")
	conf := shippedFleetConf(t, "alerter.conf", alerter, watchFile(f.aOut, "procblocking_scan", "procblocking_alert"))
	require.NoError(t, os.WriteFile(f.aConf, []byte(conf), 0o600))
	f.aState = filepath.Join(dir, "state")
	f.aEnv = []string{"NATS_URL=" + f.nats.url(), "TELEGRAM_BOT_TOKEN=" + e2eToken, "TELEGRAM_CHAT_ID=-100123",
		"TELEGRAM_API_URL=" + f.tg.URL(), "PROCBLOCKING_STATE_DIR=" + f.aState}
	f.startAlerter(t)
	return f
}

func (f *fleet) startAlerter(t *testing.T) {
	t.Helper()
	f.alerter = proctest.Start(t, f.aEnv, f.bin, "--config", f.aConf)
}

func (f *fleet) publishedScans(host string) []fleetScan {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.published[host])
}

// waitPublished waits until the node has published n scans that report
// exactly pids, after the scans it had published before.
func (f *fleet) waitPublished(t *testing.T, n *fleetNode, count int, pids ...string) {
	t.Helper()
	before := len(f.publishedScans(n.name))
	proctest.WaitFor(t, 60*time.Second, fmt.Sprintf("%d scans of %s reporting %v on NATS", count, n.name, pids), func() bool {
		f.checkRunning(t)
		seen := 0
		for _, s := range f.publishedScans(n.name)[before:] {
			if slices.Equal(s.pids, pids) {
				seen++
			}
		}
		return seen >= count
	})
}

func (f *fleet) checkRunning(t *testing.T) {
	t.Helper()
	for _, n := range f.nodes {
		if n.agent != nil {
			require.False(t, n.agent.Exited(), "node %s exited: %v\n%s", n.name, n.agent.Err(), n.agent.Stderr.String())
		}
	}
	if f.alerter != nil {
		require.False(t, f.alerter.Exited(), "the alerter exited: %v\n%s", f.alerter.Err(), f.alerter.Stderr.String())
	}
}

// consumer is the alerter's durable consumer as the server keeps it.
func (f *fleet) consumer(t *testing.T) *nats.ConsumerInfo {
	t.Helper()
	ci, err := f.js.ConsumerInfo(fleetStream, fleetConsumer)
	require.NoError(t, err)
	return ci
}

// caughtUp waits until every running node has published two more scans
// and the alerter has acknowledged every message published by then: each
// node's later scans have been decided on, so an event they would repeat
// would be there.
func (f *fleet) caughtUp(t *testing.T) {
	t.Helper()
	before := map[string]int{}
	for _, n := range f.nodes {
		before[n.name] = len(f.publishedScans(n.name))
	}
	proctest.WaitFor(t, 60*time.Second, "two more scans of every running node on NATS", func() bool {
		f.checkRunning(t)
		for _, n := range f.nodes {
			if n.agent != nil && len(f.publishedScans(n.name)) < before[n.name]+2 {
				return false
			}
		}
		return true
	})
	var target uint64
	proctest.WaitFor(t, 60*time.Second, "the stream's last message", func() bool {
		si, err := f.js.StreamInfo(fleetStream)
		if err != nil {
			return false
		}
		target = si.State.LastSeq
		return true
	})
	proctest.WaitFor(t, 90*time.Second, fmt.Sprintf("the alerter to acknowledge message %d", target), func() bool {
		f.checkRunning(t)
		ci, err := f.js.ConsumerInfo(fleetStream, fleetConsumer)
		return err == nil && ci.AckFloor.Stream >= target
	})
}

// quiesce stops the nodes (SIGSTOP) and waits until the alerter has
// acknowledged all they published: nothing is then in flight.
func (f *fleet) quiesce(t *testing.T) {
	t.Helper()
	for _, n := range f.nodes {
		require.NoError(t, syscall.Kill(n.agent.PID(), syscall.SIGSTOP))
	}
	t.Cleanup(f.resumeNodes)
	proctest.WaitFor(t, 90*time.Second, "the alerter to acknowledge every message", func() bool {
		require.False(t, f.alerter.Exited(), "the alerter exited: %v\n%s", f.alerter.Err(), f.alerter.Stderr.String())
		ci, err := f.js.ConsumerInfo(fleetStream, fleetConsumer)
		return err == nil && ci.NumPending == 0 && ci.NumAckPending == 0 && ci.NumRedelivered == 0
	})
}

// deliveriesRecorded waits until the alerter's Telegram output has recorded
// every event it queued as finished. An alerter SIGKILLed before that sends
// a delivered message again when it restarts, as the output's README says:
// at least once, not the replay under test.
func (f *fleet) deliveriesRecorded(t *testing.T) {
	t.Helper()
	path := filepath.Join(f.aState, "telegram", "queue.log")
	proctest.WaitFor(t, 60*time.Second, "the alerter's Telegram output to record its deliveries", func() bool {
		f.checkRunning(t)
		return queueFinished(path)
	})
}

func (f *fleet) resumeNodes() {
	for _, n := range f.nodes {
		if n.agent != nil && !n.agent.Exited() {
			_ = syscall.Kill(n.agent.PID(), syscall.SIGCONT)
		}
	}
}
