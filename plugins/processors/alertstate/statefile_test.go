package alertstate

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/statedir"
	"github.com/procblocking/procblocking/plugins/processors/alertstate/internal/machine"
)

// The test binary doubles as a processor that is killed while it writes.
const (
	helperEnv   = "ALERTSTATE_TEST_STATE_FILE"
	helperReady = "READY"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		os.Exit(stateWriterHelper(path))
	}
	// The factory's default state file lies under this directory, not in
	// the machine's /var/lib/procblocking.
	dir, err := os.MkdirTemp("", "alertstate-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.Setenv(statedir.Env, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// stateWriterHelper runs a processor on path that changes its state on
// every scan (hundreds of jobs come and go), until it is killed.
func stateWriterHelper(path string) int {
	p := factory()
	p.Threshold, p.Cooldown, p.StateFile, p.Log = config.Duration(time.Hour), config.Duration(time.Hour), path, testutil.Logger{}
	if err := p.Init(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for scan := 0; ; scan++ {
		at := t0.Add(time.Duration(scan) * time.Minute)
		in := make([]telegraf.Metric, 0, 501)
		for i := range 500 {
			if (i+scan)%3 != 0 {
				in = append(in, procMetric("h1", 200000+i, t0.Add(-2*time.Hour), at))
			}
		}
		in = append(in, scanMetric("h1", at, true, int64(len(in))))
		p.Apply(in...)
		if scan == 0 {
			fmt.Println(helperReady)
		}
	}
}

func statePlugin(t *testing.T, path string, mod func(*AlertState)) *AlertState {
	return plugin(t, func(p *AlertState) {
		p.StateFile = path
		if mod != nil {
			mod(p)
		}
	})
}

func readState(t *testing.T, path string) machine.State {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	st, err := machine.Decode(data)
	require.NoError(t, err)
	return st
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Sys().(*syscall.Stat_t).Ino
}

func TestStateFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertstate.json")
	p := statePlugin(t, path, nil)
	created := t0.Add(-2 * time.Hour)
	p.Apply(procMetric("h1", 7, created, t0), procMetric("h1", 8, created, t0), scanMetric("h1", t0, true, 2))
	st := readState(t, path)
	require.Equal(t, p.machine.Snapshot(), st)
	require.Len(t, st.Sources, 1)
	require.Equal(t, map[string]string{"host": "h1"}, st.Sources[0].Tags)
	require.Len(t, st.Sources[0].Jobs, 2)
	j := st.Sources[0].Jobs[0]
	require.Equal(t, int64(7), j.PID)
	require.Equal(t, created.UnixNano(), j.CreatedAt)
	require.Equal(t, int64(1), j.AlertsSent)
	require.Equal(t, "python3 -m pytest tests/", j.Head.Cmdline)

	q := statePlugin(t, path, nil)
	require.Equal(t, st, q.machine.Snapshot())
}

// Written once per scan that changed the state, not per metric nor per scan.
func TestStateFileWrittenOncePerChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertstate.json")
	p := statePlugin(t, path, nil)
	created := t0.Add(-2 * time.Hour)
	for _, m := range []telegraf.Metric{procMetric("h1", 7, created, secs(0)), procMetric("h1", 8, created, secs(0))} {
		p.Apply(m)
	}
	require.NoFileExists(t, path, "nothing is written before the scan closes")
	p.Apply(scanMetric("h1", secs(0), true, 2))
	first := inode(t, path) // every write renames a new file into place
	for s := 10; s <= 50; s += 10 {
		p.Apply(procMetric("h1", 7, created, secs(float64(s))), procMetric("h1", 8, created, secs(float64(s))), scanMetric("h1", secs(float64(s)), true, 2))
	}
	require.Equal(t, first, inode(t, path), "unchanged scans write nothing")
	p.Apply(procMetric("h1", 7, created, secs(60)), scanMetric("h1", secs(60), true, 1))
	require.NotEqual(t, first, inode(t, path))
	require.Len(t, readState(t, path).Sources[0].Jobs, 1)
}

// A kill and restart: the new instance loads the file, sends no duplicate
// alert, delivers the recovery of the job that ended meanwhile, and
// realerts only once the cooldown has passed since the last alert.
func TestRestartFromStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertstate.json")
	created := t0.Add(-2 * time.Hour)

	first := statePlugin(t, path, nil)
	got := first.Apply(procMetric("h1", 7, created, secs(0)), procMetric("h1", 8, created, secs(0)), scanMetric("h1", secs(0), true, 2))
	require.Equal(t, []string{"alert 7", "alert 8"}, alertEvents(got))
	for i := 1; i <= 3; i++ {
		got = first.Apply(scanMetric("h1", secs(float64(i)), false, 0))
	}
	require.Equal(t, []string{"scan_failed "}, alertEvents(got))
	// The first instance dies here without any stop: only its own file is left.

	second := statePlugin(t, path, nil)
	require.Empty(t, alertEvents(second.Apply(scanMetric("h1", secs(10), false, 0))), "already reported blind")
	got = second.Apply(procMetric("h1", 7, created, secs(60)), scanMetric("h1", secs(60), true, 1))
	require.Equal(t, []string{"scan_recovered ", "recovery 8"}, alertEvents(got))
	got = second.Apply(procMetric("h1", 7, created, secs(999)), scanMetric("h1", secs(999), true, 1))
	require.Empty(t, alertEvents(got), "within the cooldown of the alert sent before the restart")
	got = second.Apply(procMetric("h1", 7, created, secs(1000)), scanMetric("h1", secs(1000), true, 1))
	require.Equal(t, []string{"realert 7"}, alertEvents(got))
	ev := events(got)[0]
	alertsSent, _ := ev.GetField("alerts_sent")
	require.Equal(t, int64(2), alertsSent)
	firstAlert, _ := ev.GetField("first_alert_at")
	require.Equal(t, secs(0).UnixNano(), firstAlert)
}

// A state file nobody should have to repair: corrupt, empty, foreign, too
// large, or not a file at all. One warning, an empty start, a regular file
// moved aside (the evidence is kept), and the next write is valid.
func TestStateFileUnusable(t *testing.T) {
	valid := func(t *testing.T) []byte {
		data, err := machine.Encode(machine.State{Version: machine.Version})
		require.NoError(t, err)
		return data
	}
	write := func(content []byte) func(t *testing.T, path string) {
		return func(t *testing.T, path string) { require.NoError(t, os.WriteFile(path, content, 0o600)) }
	}
	tests := []struct {
		name     string
		make     func(t *testing.T, path string)
		reason   string
		regular  bool
		keepSize int64
	}{
		{"corrupt", write([]byte(`{"version":2,"sources":[{"tags":`)), "decoding state", true, 0},
		{"empty", write([]byte{}), "empty state file", true, 0},
		{"foreign version", write([]byte(`{"version":3}`)), "unsupported state version 3", true, 0},
		{"no version", write([]byte(`{"sources":[]}`)), "unsupported state version 0", true, 0},
		{"unknown field", write([]byte(`{"version":2,"procs":[]}`)), "unknown field", true, 0},
		{"negative count", write([]byte(`{"version":2,"sources":[{"tags":{"host":"h1"},"jobs":[{"pid":7,"created_at":1,"head":{"pid":7,"created_at":1,"age_seconds":1},"alerts_sent":-1,"last_seen_at":1}]}]}`)), "alerts_sent -1", true, 0},
		{"count beyond int64", write([]byte(`{"version":2,"sources":[{"tags":{"host":"h1"},"jobs":[{"pid":7,"created_at":1,"head":{"pid":7,"created_at":1,"age_seconds":1},"alerts_sent":9223372036854775808,"last_seen_at":1}]}]}`)), "decoding state", true, 0},
		{"trailing data", func(t *testing.T, path string) { write(append(valid(t), "{}"...))(t, path) }, "trailing data", true, 0},
		{"too large", func(t *testing.T, path string) {
			f, err := os.Create(path)
			require.NoError(t, err)
			require.NoError(t, f.Truncate(stateFileLimit+1)) // sparse: costs no disk
			require.NoError(t, f.Close())
		}, "file too large", true, stateFileLimit + 1},
		{"a FIFO", func(t *testing.T, path string) { require.NoError(t, syscall.Mkfifo(path, 0o600)) }, "is a FIFO", false, 0},
		{"a symlink to /dev/zero", func(t *testing.T, path string) { require.NoError(t, os.Symlink("/dev/zero", path)) }, "is a device", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "alertstate.json")
			tt.make(t, path)
			var before []byte
			if tt.regular && tt.keepSize == 0 {
				var err error
				before, err = os.ReadFile(path)
				require.NoError(t, err)
			}
			log := &testutil.CaptureLogger{}
			done := make(chan *AlertState)
			go func() { done <- statePlugin(t, path, func(p *AlertState) { p.Log = log }) }()
			var p *AlertState
			select {
			case p = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Init blocked on the state file")
			}
			require.Len(t, log.Warnings(), 1)
			require.Contains(t, log.Warnings()[0], tt.reason)
			require.Zero(t, p.machine.Jobs())
			if tt.regular {
				require.Contains(t, log.Warnings()[0], "alertstate.json.corrupt")
				require.NoFileExists(t, path)
				fi, err := os.Stat(path + ".corrupt")
				require.NoError(t, err, "the evidence is kept")
				if tt.keepSize > 0 {
					require.Equal(t, tt.keepSize, fi.Size())
				} else {
					aside, err := os.ReadFile(path + ".corrupt")
					require.NoError(t, err)
					require.Equal(t, before, aside)
				}
			} else {
				require.NoFileExists(t, path+".corrupt", "only a regular file is moved aside")
			}

			// Works on: the next change writes a valid, regular file.
			p.Apply(procMetric("h1", 7, t0.Add(-2*time.Hour), t0), scanMetric("h1", t0, true, 1))
			fi, err := os.Lstat(path)
			require.NoError(t, err)
			require.True(t, fi.Mode().IsRegular())
			require.Len(t, readState(t, path).Sources[0].Jobs, 1)
		})
	}
}

func TestStateFileStaleTempRemoved(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alert[state].json")
	stale := filepath.Join(dir, "alert[state].json.tmp-12345")
	require.NoError(t, os.WriteFile(stale, []byte(`{"version":2,"gener`), 0o600))
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
	dir := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.Mkdir(dir, 0o755))
	path := filepath.Join(dir, "alertstate.json")
	log := &testutil.CaptureLogger{}
	p := statePlugin(t, path, func(p *AlertState) { p.Log = log; p.GroupInterval = 0 })
	brk := func() {
		require.NoError(t, os.RemoveAll(dir))
		require.NoError(t, os.WriteFile(dir, nil, 0o600))
	}
	brk()
	created := t0.Add(-2 * time.Hour)
	for i, pid := range []int{7, 8, 9} {
		got := p.Apply(procMetric("h1", pid, created, secs(float64(i))), scanMetric("h1", secs(float64(i)), true, 1))
		require.Equal(t, []string{"alert " + strconv.Itoa(pid)}, alertEvents(got)[:1])
	}
	require.Len(t, log.Warnings(), 1, "one warning for the streak")
	require.Contains(t, log.Warnings()[0], "keeping the state in memory")
	require.Equal(t, 1, p.machine.Jobs(), "works from memory: 7 and 8 recovered")

	require.NoError(t, os.Remove(dir))
	require.NoError(t, os.Mkdir(dir, 0o755))
	p.Apply(procMetric("h1", 9, created, secs(10)), scanMetric("h1", secs(10), true, 1))
	require.Len(t, readState(t, path).Sources[0].Jobs, 1, "the pending change is written once possible")
	require.Contains(t, log.Messages()[len(log.Messages())-1].Text, "works again")
	brk()
	p.Apply(procMetric("h1", 10, created, secs(20)), scanMetric("h1", secs(20), true, 1))
	require.Len(t, log.Warnings(), 2, "a new streak warns again")
}

// SIGKILL of a real processor at random moments while it writes its state
// on every scan: the file it leaves always loads, without a warning.
// (internal/atomicfile's own test kills a writer at each step of a write.)
func TestStateFileKilledAtRandomMoments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertstate.json")
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0)) //nolint:gosec // picks moments, not secrets
	t.Logf("seed %d", seed)
	for kill := range 8 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+path)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		pid := cmd.Process.Pid
		line, err := bufio.NewReader(stdout).ReadString('\n')
		require.NoError(t, err, "the helper exited before its first write")
		require.Equal(t, helperReady+"\n", line)
		time.Sleep(time.Duration(rng.IntN(40_000)) * time.Microsecond)
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		err = cmd.Wait()
		var exitErr *exec.ExitError
		require.ErrorAs(t, err, &exitErr)
		require.Equal(t, syscall.SIGKILL, exitErr.Sys().(syscall.WaitStatus).Signal(), "kill %d", kill)

		st := readState(t, path) // decodes: complete
		log := &testutil.CaptureLogger{}
		restarted := statePlugin(t, path, func(p *AlertState) { p.Log = log })
		require.Empty(t, log.Warnings(), "kill %d", kill)
		require.Equal(t, len(st.Sources[0].Jobs), restarted.machine.Jobs())
		require.NotZero(t, restarted.machine.Jobs())
	}
}

// A state directory that does not exist yet is created.
func TestStateFileDirectoryCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lib", "alertstate", "state.json")
	p := statePlugin(t, path, nil)
	p.Apply(procMetric("h1", 7, t0.Add(-2*time.Hour), t0), scanMetric("h1", t0, true, 1))
	require.Len(t, readState(t, path).Sources[0].Jobs, 1)
}

// A state file whose last alert is a day in the future (the clock stepped
// back, a VM restored from a snapshot): the realert comes one cooldown
// later, not a day and a cooldown later, and it is logged once.
func TestStateFileFromTheFuture(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertstate.json")
	created := t0.Add(-2 * time.Hour)
	statePlugin(t, path, nil).Apply(procMetric("h1", 7, created, secs(86400)), scanMetric("h1", secs(86400), true, 1))
	require.Equal(t, secs(86400).UnixNano(), readState(t, path).Sources[0].Jobs[0].LastAlertAt)

	log := &testutil.CaptureLogger{}
	p := statePlugin(t, path, func(p *AlertState) { p.Log = log })
	var got []string
	for _, s := range []float64{0, 10, 999, 1000} {
		got = append(got, alertEvents(p.Apply(procMetric("h1", 7, created, secs(s)), scanMetric("h1", secs(s), true, 1)))...)
		if s < 1000 {
			require.Empty(t, got, "at %vs", s)
		}
	}
	require.Equal(t, []string{"realert 7"}, got)
	require.Len(t, log.Warnings(), 1, "logged once")
	require.Contains(t, log.Warnings()[0], "24h0m0s")
	require.Contains(t, log.Warnings()[0], "{host=h1}")
}

// Counters at their maximum: no negative alert number in a message, none
// saved.
func TestStateFileCountersSaturate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertstate.json")
	created := t0.Add(-2 * time.Hour)
	state := fmt.Sprintf(`{"version":2,"sources":[{"tags":{"host":"h1"},"jobs":[
		{"pid":7,"created_at":%d,"head":{"pid":7,"created_at":%d,"age_seconds":7200,"pattern":"pytest","cmdline":"pytest"},
		 "alerts_sent":9223372036854775807,"first_alert_at":%d,"last_alert_at":%d,"last_seen_at":%d}]}]}`,
		created.UnixNano(), created.UnixNano(), t0.UnixNano(), t0.UnixNano(), t0.UnixNano())
	require.NoError(t, os.WriteFile(path, []byte(state), 0o600))
	p := statePlugin(t, path, nil)
	out := p.Apply(procMetric("h1", 7, created, secs(1000)), scanMetric("h1", secs(1000), true, 1))
	require.Equal(t, []string{"realert 7"}, alertEvents(out))
	sent, _ := events(out)[0].GetField("alerts_sent")
	require.Equal(t, int64(9223372036854775807), sent)
	require.Contains(t, messageOf(t, events(out)[0]), "(alert 9223372036854775807)")
	st := readState(t, path)
	require.Equal(t, int64(9223372036854775807), st.Sources[0].Jobs[0].AlertsSent)
}

// Alerts and recoveries held in the group window when the agent is killed
// are in the state file: the next instance sends them when the window ends,
// nothing lost and nothing twice.
func TestHeldEventsSurviveAKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertstate.json")
	created := t0.Add(-2 * time.Hour)
	scan := func(p *AlertState, s float64, pids ...int) []string {
		var in []telegraf.Metric
		for _, pid := range pids {
			in = append(in, procMetric("h1", pid, created, secs(s)))
		}
		return alertEvents(p.Apply(append(in, scanMetric("h1", secs(s), true, int64(len(pids))))...))
	}
	first := statePlugin(t, path, nil)
	require.Equal(t, []string{"alert 7"}, scan(first, 0, 7))
	require.Empty(t, scan(first, 10, 7, 8, 9), "8 and 9 are held")
	require.Empty(t, scan(first, 20, 7, 8), "9 ended: its alert and recovery are held")
	// SIGKILL: nothing but the state file is left.

	second := statePlugin(t, path, nil)
	require.Empty(t, scan(second, 30, 7, 8))
	require.Equal(t, []string{"alert 8", "alert 9", "recovery 9"}, scan(second, 60, 7, 8))
	require.Empty(t, scan(second, 70, 7, 8))
	third := statePlugin(t, path, nil)
	require.Empty(t, scan(third, 80, 7, 8), "sent once: the state file says so")
}

// An input without scan metrics: a decision taken when a newer timestamp
// arrives that only holds an alert is written too, so a kill loses nothing.
func TestHeldWithoutScanMetricsIsWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertstate.json")
	p := statePlugin(t, path, nil)
	created := t0.Add(-2 * time.Hour)
	require.Equal(t, []string{"alert 7"}, alertEvents(append(p.Apply(procMetric("h1", 7, created, secs(0))), p.Apply(procMetric("h1", 7, created, secs(10)))...)))
	p.Apply(procMetric("h1", 8, created, secs(10)))
	p.Apply(procMetric("h1", 8, created, secs(20))) // decides on 10: 8's alert is held
	st := readState(t, path)
	require.Len(t, st.Sources[0].Jobs, 2)
	require.Equal(t, int64(0), st.Sources[0].Jobs[1].AlertsSent, "8's held alert is on disk")
}
