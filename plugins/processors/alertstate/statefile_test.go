package alertstate

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/persister"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// The test binary doubles as the child that is killed during a state write.
const (
	helperEnv      = "ALERTSTATE_TEST_HELPER"
	helperStateEnv = "ALERTSTATE_TEST_STATE"
	helperReady    = "READY"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(stateWriterHelper(mode, os.Getenv(helperStateEnv)))
	}
	os.Exit(m.Run())
}

// stateWriterHelper loads the state file, alerts on many processes and
// blocks inside the write at the point named by mode until it is killed.
func stateWriterHelper(mode, path string) int {
	p := &AlertState{
		Measurement: "procblocking", ScanMeasurement: "procblocking_scan", AlertMeasurement: "procblocking_alert",
		Threshold: config1h, Cooldown: config1h, SendRecovery: true, DigestAfter: 5, FailedScansBeforeAlert: 3,
		Language: "en", StateFile: path, Log: testutil.Logger{},
	}
	if err := p.Init(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	block := func() {
		fmt.Println(helperReady)
		os.Stdout.Sync()
		select {} // until SIGKILL
	}
	switch mode {
	case "before-rename":
		p.store.afterTempWrite = block
	case "after-rename":
		p.store.afterRename = block
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
		return 2
	}
	at := t0.Add(time.Hour)
	in := make([]telegraf.Metric, 0, helperProcs+1)
	for i := range helperProcs {
		in = append(in, procMetric("h1", 200000+i, t0.Add(-2*time.Hour), at))
	}
	in = append(in, scanMetric("h1", at, true, helperProcs))
	p.Apply(in...)
	fmt.Fprintln(os.Stderr, "the write returned: the hook did not run")
	return 3
}

const helperProcs = 5000

var config1h = config.Duration(time.Hour)

func statePlugin(t *testing.T, path string, mod func(*AlertState)) *AlertState {
	return plugin(t, func(p *AlertState) {
		p.StateFile = path
		if mod != nil {
			mod(p)
		}
	})
}

func readState(t *testing.T, path string) State {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	st, err := decodeState(data)
	require.NoError(t, err)
	return st
}

func alertEvents(ms []telegraf.Metric) []string {
	var out []string
	for _, m := range ms {
		if m.Name() != "procblocking_alert" {
			continue
		}
		ev, _ := m.GetTag("event")
		pid, _ := m.GetTag("pid")
		out = append(out, ev+" "+pid)
	}
	return out
}

func TestStateFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertstate.json")
	p := statePlugin(t, path, nil)
	created := t0.Add(-2 * time.Hour)
	p.Apply(procMetric("h1", 7, created, t0), procMetric("h1", 8, created, t0), scanMetric("h1", t0, true, 2))
	st := readState(t, path)
	require.Equal(t, p.GetState(), st)
	require.Len(t, st.Processes, 2)
	require.Equal(t, map[string]string{"host": "h1", "pattern": "pytest", "pid": "7"}, st.Processes[0].Tags)
	require.Equal(t, created.UnixNano(), st.Processes[0].CreatedAt)
	require.Equal(t, 1, st.Processes[0].AlertsSent)
	require.Equal(t, "python3 -m pytest tests/", st.Processes[0].Cmdline)

	q := statePlugin(t, path, nil)
	require.Equal(t, st, q.GetState())
}

// Written once per scan that changed the state, not per metric nor per scan.
func TestStateFileWrittenOncePerChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertstate.json")
	p := statePlugin(t, path, nil)
	writes := 0
	p.store.afterRename = func() { writes++ }
	created := t0.Add(-2 * time.Hour)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, m := range []telegraf.Metric{procMetric("h1", 7, created, at(0)), procMetric("h1", 8, created, at(0))} {
		p.Apply(m)
	}
	require.Zero(t, writes, "nothing is written before the scan closes")
	p.Apply(scanMetric("h1", at(0), true, 2))
	require.Equal(t, 1, writes)
	for s := 10; s <= 50; s += 10 {
		p.Apply(procMetric("h1", 7, created, at(s)), procMetric("h1", 8, created, at(s)), scanMetric("h1", at(s), true, 2))
	}
	require.Equal(t, 1, writes, "unchanged scans write nothing")
	p.Apply(procMetric("h1", 7, created, at(60)), scanMetric("h1", at(60), true, 1))
	require.Equal(t, 2, writes)
}

// A kill and restart: the new instance loads the file, sends no duplicate
// alert, delivers the recovery of the process that vanished meanwhile, and
// realerts only once the cooldown has passed since the last alert.
func TestRestartFromStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertstate.json")
	created := t0.Add(-2 * time.Hour)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

	first := statePlugin(t, path, nil)
	got := first.Apply(procMetric("h1", 7, created, at(0)), procMetric("h1", 8, created, at(0)), scanMetric("h1", at(0), true, 2))
	require.Equal(t, []string{"alert 7", "alert 8"}, alertEvents(got))
	for i := 1; i <= 3; i++ {
		got = first.Apply(scanMetric("h1", at(i), false, 0))
	}
	require.Equal(t, []string{"scan_failed "}, alertEvents(got))
	// The first instance dies here without any stop: only its own file is left.

	second := statePlugin(t, path, nil)
	require.Empty(t, alertEvents(second.Apply(scanMetric("h1", at(10), false, 0))), "already reported blind")
	got = second.Apply(procMetric("h1", 7, created, at(20)), scanMetric("h1", at(20), true, 1))
	require.Equal(t, []string{"scan_recovered ", "recovery 8"}, alertEvents(got))
	got = second.Apply(procMetric("h1", 7, created, at(999)), scanMetric("h1", at(999), true, 1))
	require.Empty(t, alertEvents(got), "within the cooldown of the alert sent before the restart")
	got = second.Apply(procMetric("h1", 7, created, at(1000)), scanMetric("h1", at(1000), true, 1))
	require.Equal(t, []string{"realert 7"}, alertEvents(got))
	alertsSent, _ := got[2].GetField("alerts_sent")
	require.Equal(t, int64(2), alertsSent)
	firstAlert, _ := got[2].GetField("first_alert_at")
	require.Equal(t, at(0).UnixNano(), firstAlert)
}

func TestStateFileUnusable(t *testing.T) {
	valid := func() []byte {
		data, err := encodeState(State{Version: stateVersion, Generation: 3})
		require.NoError(t, err)
		return data
	}
	tests := []struct {
		name    string
		content []byte
		reason  string
	}{
		{"corrupt", []byte(`{"version":1,"processes":[{"tags":`), "decoding state"},
		{"empty", []byte{}, "empty state file"},
		{"foreign version", []byte(`{"version":2,"generation":9,"processes":[]}`), "unsupported state version 2"},
		{"no version", []byte(`{"processes":[]}`), "unsupported state version 0"},
		{"unknown field", []byte(`{"version":1,"procs":[]}`), "unknown field"},
		{"invalid process", []byte(`{"version":1,"processes":[{"tags":{},"alerts_sent":1}]}`), "has no tags"},
		{"trailing data", append(valid(), []byte("{}")...), "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "alertstate.json")
			require.NoError(t, os.WriteFile(path, tt.content, 0o600))
			log := &testutil.CaptureLogger{}
			p := statePlugin(t, path, func(p *AlertState) { p.Log = log })
			require.Len(t, log.Warnings(), 1)
			require.Contains(t, log.Warnings()[0], tt.reason)
			require.Contains(t, log.Warnings()[0], "alertstate.json.corrupt")
			aside, err := os.ReadFile(path + ".corrupt")
			require.NoError(t, err)
			require.Equal(t, tt.content, aside, "the evidence is kept")
			require.NoFileExists(t, path)
			require.Zero(t, p.machine.Tracked())

			// Works on: the next change writes a valid file.
			p.Apply(procMetric("h1", 7, t0.Add(-2*time.Hour), t0), scanMetric("h1", t0, true, 1))
			require.Len(t, readState(t, path).Processes, 1)
		})
	}
}

func TestStateFileStaleTempRemoved(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alert[state].json")
	stale := filepath.Join(dir, "alert[state].json.tmp-12345")
	require.NoError(t, os.WriteFile(stale, []byte(`{"version":1,"gener`), 0o600))
	other := filepath.Join(dir, "other.json.tmp-1")
	require.NoError(t, os.WriteFile(other, nil, 0o600))
	statePlugin(t, path, nil)
	require.NoFileExists(t, stale)
	require.FileExists(t, other, "only this state file's temporaries are touched")
}

// A state directory that stops accepting writes: one warning per streak,
// the processor keeps working from memory, and the state lands on disk once
// the directory works again.
func TestStateDirectoryUnwritable(t *testing.T) {
	breakers := []struct {
		name  string
		brk   func(t *testing.T, dir string)
		unbrk func(t *testing.T, dir string)
	}{
		{
			name: "read-only",
			brk: func(t *testing.T, dir string) {
				if os.Geteuid() == 0 {
					t.Skipf("needs a non-root user: root writes into read-only directories")
				}
				require.NoError(t, os.Chmod(dir, 0o555))
				t.Cleanup(func() { os.Chmod(dir, 0o755) })
			},
			unbrk: func(t *testing.T, dir string) { require.NoError(t, os.Chmod(dir, 0o755)) },
		},
		{
			name: "replaced by a file",
			brk: func(t *testing.T, dir string) {
				require.NoError(t, os.RemoveAll(dir))
				require.NoError(t, os.WriteFile(dir, nil, 0o600))
			},
			unbrk: func(t *testing.T, dir string) {
				require.NoError(t, os.Remove(dir))
				require.NoError(t, os.Mkdir(dir, 0o755))
			},
		},
	}
	for _, b := range breakers {
		t.Run(b.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			require.NoError(t, os.Mkdir(dir, 0o755))
			path := filepath.Join(dir, "alertstate.json")
			log := &testutil.CaptureLogger{}
			p := statePlugin(t, path, func(p *AlertState) { p.Log = log })
			b.brk(t, dir)
			created := t0.Add(-2 * time.Hour)
			at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
			for i, pid := range []int{7, 8, 9} {
				got := p.Apply(procMetric("h1", pid, created, at(i)), scanMetric("h1", at(i), true, 1))
				require.Equal(t, []string{"alert " + strconv.Itoa(pid)}, alertEvents(got)[:1])
			}
			require.Len(t, log.Warnings(), 1, "one warning for the streak")
			require.Contains(t, log.Warnings()[0], "keeping the state in memory")
			require.Equal(t, 1, p.machine.Tracked(), "works from memory: 7 and 8 recovered")

			b.unbrk(t, dir)
			p.Apply(procMetric("h1", 9, created, at(10)), scanMetric("h1", at(10), true, 1))
			require.Len(t, readState(t, path).Processes, 1, "the pending change is written once possible")
			b.brk(t, dir)
			p.Apply(procMetric("h1", 10, created, at(20)), scanMetric("h1", at(20), true, 1))
			require.Len(t, log.Warnings(), 2, "a new streak warns again")
		})
	}
}

// SIGKILL in the middle of a state write: the file is the old complete
// state or the new complete one, never half, and the temp file left behind
// is removed by the next start.
func TestStateFileSIGKILLDuringWrite(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		wantNew bool
	}{{"before-rename", false}, {"after-rename", true}} {
		t.Run(tc.mode, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "alertstate.json")
			old := statePlugin(t, path, nil)
			old.Apply(procMetric("h1", 7, t0.Add(-2*time.Hour), t0), scanMetric("h1", t0, true, 1))
			oldState := readState(t, path)
			require.Len(t, oldState.Processes, 1)

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"="+tc.mode, helperStateEnv+"="+path)
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			cmd.Stderr = os.Stderr
			require.NoError(t, cmd.Start())
			pid := cmd.Process.Pid
			t.Cleanup(func() {
				syscall.Kill(pid, syscall.SIGKILL)
				cmd.Wait()
			})
			line, err := bufio.NewReader(stdout).ReadString('\n')
			require.NoError(t, err, "the helper exited before reaching the hook")
			require.Equal(t, helperReady+"\n", line)
			require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
			err = cmd.Wait()
			var exitErr *exec.ExitError
			require.ErrorAs(t, err, &exitErr)
			require.Equal(t, syscall.SIGKILL, exitErr.Sys().(syscall.WaitStatus).Signal())

			temps, err := filepath.Glob(filepath.Join(dir, "alertstate.json.tmp-*"))
			require.NoError(t, err)
			st := readState(t, path) // decodes: complete
			if tc.wantNew {
				require.Empty(t, temps)
				require.Len(t, st.Processes, helperProcs, "the helper's scan recovered the old process")
				require.Greater(t, st.Generation, oldState.Generation)
			} else {
				require.Len(t, temps, 1, "the interrupted write left its temp file")
				require.Equal(t, oldState, st)
			}

			log := &testutil.CaptureLogger{}
			restarted := statePlugin(t, path, func(p *AlertState) { p.Log = log })
			require.Empty(t, log.Warnings())
			require.Equal(t, len(st.Processes), restarted.machine.Tracked())
			temps, err = filepath.Glob(filepath.Join(dir, "alertstate.json.tmp-*"))
			require.NoError(t, err)
			require.Empty(t, temps)
		})
	}
}

// A state file of format version 1 as committed: it must keep loading, and
// restore alerts, cooldowns and failure streaks.
func TestStateFileFixtureV1(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "state_v1.json"))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "alertstate.json")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	p := statePlugin(t, path, func(p *AlertState) { p.Cooldown = config.Duration(30 * time.Minute) })
	require.Equal(t, 2, p.machine.Tracked())
	require.Equal(t, uint64(42), p.machine.Generation())

	// 48213 still runs 10 minutes after its last alert: quiet. 51007 is
	// gone: its recovery says how long it lived and how many alerts it had.
	at := time.Unix(0, 1795774200000000000).UTC()
	created := time.Unix(0, 1795764410000000000).UTC()
	m := procMetric("ci-runner-3", 48213, created, at)
	out := p.Apply(m, scanMetric("ci-runner-3", at, true, 1))
	require.Equal(t, []string{"recovery 51007"}, alertEvents(out))
	msg, _ := out[2].GetField("message")
	require.Equal(t, "RECOVERY: blocking process on ci-runner-3\n"+
		"PID 51007 (pattern \"pytest\") is gone after running for 2h 15m (8140 s); 1 alert(s) were sent.\n"+
		"Command: pytest -k slow", msg)
	st := readState(t, path)
	require.Len(t, st.Processes, 1)
	require.Empty(t, st.Sources, "the good scan ended the failure streak")

	// 30 minutes after the last alert of the file: realert number 3.
	at = time.Unix(0, 1795773600000000000).Add(30 * time.Minute).UTC()
	out = p.Apply(procMetric("ci-runner-3", 48213, created, at), scanMetric("ci-runner-3", at, true, 1))
	require.Equal(t, []string{"realert 48213"}, alertEvents(out))
	sent, _ := out[2].GetField("alerts_sent")
	require.Equal(t, int64(3), sent)
}

// A state directory that does not exist yet is created.
func TestStateFileDirectoryCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lib", "alertstate", "state.json")
	p := statePlugin(t, path, nil)
	p.Apply(procMetric("h1", 7, t0.Add(-2*time.Hour), t0), scanMetric("h1", t0, true, 1))
	require.Len(t, readState(t, path).Processes, 1)
}

// Telegraf's own statefile, through its persister: stored on a clean stop,
// loaded after Init into a fresh instance that has no state file of its own.
func TestTelegrafPersister(t *testing.T) {
	file := filepath.Join(t.TempDir(), "telegraf.state")
	created := t0.Add(-2 * time.Hour)

	p := plugin(t, nil)
	p.Apply(procMetric("h1", 7, created, t0), procMetric("h1", 8, created, t0), scanMetric("h1", t0, true, 2))
	store := &persister.Persister{Filename: file}
	require.NoError(t, store.Init())
	require.NoError(t, store.Register("alertstate-1", p))
	require.NoError(t, store.Store())

	q := plugin(t, nil)
	load := &persister.Persister{Filename: file}
	require.NoError(t, load.Init())
	require.NoError(t, load.Register("alertstate-1", q))
	require.NoError(t, load.Load())
	require.Equal(t, p.GetState(), q.GetState())
	later := t0.Add(time.Minute)
	out := q.Apply(procMetric("h1", 7, created, later), scanMetric("h1", later, true, 1))
	require.Equal(t, []string{"recovery 8"}, alertEvents(out))
}
