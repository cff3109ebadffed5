package alertstate

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/processors"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/statedir"
	"github.com/procblocking/procblocking/plugins/processors/alertstate/internal/machine"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func secs(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// factory returns the processor with the defaults of its registered factory.
func factory() *AlertState {
	return processors.Processors["alertstate"]().(processors.HasUnwrap).Unwrap().(*AlertState)
}

// plugin returns the processor with its factory's defaults and a cooldown
// of 1000 s (the reference's TC-05), changed by mod, initialised.
func plugin(t testing.TB, mod func(*AlertState)) *AlertState {
	t.Helper()
	p := factory()
	p.Threshold = config.Duration(time.Hour)
	p.Cooldown = config.Duration(1000 * time.Second)
	p.Log = testutil.Logger{}
	p.StateFile = "" // in memory; the state file tests give one
	if mod != nil {
		mod(p)
	}
	require.NoError(t, p.Init())
	return p
}

// proc describes a process as inputs.procblocking reports it (contract C1).
type proc struct {
	host    string
	pid     int
	created time.Time
	// The top of its job; zero: the process is its own top.
	jobPID     int
	jobCreated time.Time
	// noJobFields: an input without job_pid and job_created_at.
	noJobFields bool
	// orphanUnknown: the input omits orphan.
	orphanUnknown bool
	cmdline       string
}

func (p proc) at(at time.Time) telegraf.Metric {
	if p.host == "" {
		p.host = "h1"
	}
	if p.cmdline == "" {
		p.cmdline = "python3 -m pytest tests/"
	}
	jobPID, jobCreated := p.pid, p.created
	if p.jobPID != 0 {
		jobPID, jobCreated = p.jobPID, p.jobCreated
	}
	fields := map[string]interface{}{
		"age_seconds":    at.Sub(p.created).Seconds(),
		"cpu_seconds":    1234.5,
		"cpu_usage":      99.5,
		"created_at":     p.created.UnixNano(),
		"ppid":           int64(1),
		"orphan":         true,
		"state":          "R",
		"comm":           "python3",
		"threads":        int64(3),
		"rss_bytes":      int64(52428800),
		"cmdline":        p.cmdline,
		"job_pid":        int64(jobPID),
		"job_created_at": jobCreated.UnixNano(),
	}
	if p.noJobFields {
		delete(fields, "job_pid")
		delete(fields, "job_created_at")
	}
	if p.orphanUnknown {
		delete(fields, "orphan")
	}
	return metric.New("procblocking", map[string]string{"host": p.host, "pattern": "pytest", "pid": strconv.Itoa(p.pid)}, fields, at)
}

// procMetric is a process that is the top of its own job.
func procMetric(host string, pid int, created, at time.Time) telegraf.Metric {
	return proc{host: host, pid: pid, created: created}.at(at)
}

func scanMetric(host string, at time.Time, ok bool, matched int64) telegraf.Metric {
	fields := map[string]interface{}{
		"processes": int64(200), "matched": matched, "errors": int64(0), "duration_ms": 3.5, "ok": ok, "host_view": true,
	}
	if !ok {
		fields["error"] = "open /proc: permission denied"
	}
	return metric.New("procblocking_scan", map[string]string{"host": host}, fields, at)
}

func alertID(host string, pid int, created time.Time) string {
	return machine.AlertID(machine.SourceID([]machine.Tag{{Key: "host", Value: host}}, func(t machine.Tag) (string, string) { return t.Key, t.Value }),
		machine.JobID{PID: int64(pid), CreatedAt: created.UnixNano()})
}

// alertMetric is the expected single-job event of procMetric's process,
// last seen at ageAt.
func alertMetric(event, host string, pid int, created, at time.Time, sent int64, firstAlert, ageAt time.Time) telegraf.Metric {
	return metric.New("procblocking_alert",
		map[string]string{"event": event, "host": host, "pattern": "pytest", "pid": strconv.Itoa(pid)},
		map[string]interface{}{
			"count":          int64(1),
			"alert_id":       alertID(host, pid, created),
			"job_processes":  int64(1),
			"age_seconds":    ageAt.Sub(created).Seconds(),
			"cpu_seconds":    1234.5,
			"cpu_usage":      99.5,
			"orphan":         true,
			"ppid":           int64(1),
			"cmdline":        "python3 -m pytest tests/",
			"alerts_sent":    sent,
			"first_alert_at": firstAlert.UnixNano(),
		},
		at)
}

// events keeps the alert events of Apply's output.
func events(ms []telegraf.Metric) []telegraf.Metric {
	var out []telegraf.Metric
	for _, m := range ms {
		if m.Name() == "procblocking_alert" {
			out = append(out, m)
		}
	}
	return out
}

// alertEvents describes the alert events compactly: "alert 7".
func alertEvents(ms []telegraf.Metric) []string {
	var out []string
	for _, m := range events(ms) {
		ev, _ := m.GetTag("event")
		pid, _ := m.GetTag("pid")
		out = append(out, ev+" "+pid)
	}
	return out
}

func messageOf(t testing.TB, m telegraf.Metric) string {
	t.Helper()
	msg, ok := m.GetField("message")
	require.True(t, ok)
	return msg.(string)
}

func TestSampleConfig(t *testing.T) {
	cfg := config.NewConfig()
	require.NoError(t, cfg.LoadConfigData([]byte(sampleConfig), "sample.conf"))
	require.Len(t, cfg.Processors, 1)
	p, ok := cfg.Processors[0].Processor.(processors.HasUnwrap).Unwrap().(*AlertState)
	require.True(t, ok)
	require.Equal(t, config.Duration(time.Hour), p.Threshold)
	require.Equal(t, config.Duration(30*time.Minute), p.Cooldown)
	require.Equal(t, "procblocking", p.Measurement)
	require.Equal(t, "procblocking_scan", p.ScanMeasurement)
	require.Equal(t, "procblocking_alert", p.AlertMeasurement)
	require.True(t, p.SendRecovery)
	require.Equal(t, 5, p.DigestAfter)
	require.Equal(t, config.Duration(time.Minute), p.GroupInterval)
	require.Equal(t, 3, p.FailedScansBeforeAlert)
	require.Equal(t, config.Duration(7*24*time.Hour), p.ForgetAfter)
	require.Equal(t, "en", p.Language)
	require.Equal(t, filepath.Join(os.Getenv(statedir.Env), "alertstate.json"), p.StateFile)
	require.NoError(t, cfg.Processors[0].Init())

	// Options and templates as a user writes them.
	cfg = config.NewConfig()
	require.NoError(t, cfg.LoadConfigData([]byte(`
[[processors.alertstate]]
  threshold = "2h"
  cooldown = "10m"
  language = "ru"
  digest_after = 2
  group_interval = "30s"
  forget_after = "3d"
  [processors.alertstate.templates]
    alert = "PID {{.Job.PID}}"
`), "user.conf"))
	p = cfg.Processors[0].Processor.(processors.HasUnwrap).Unwrap().(*AlertState)
	require.Equal(t, config.Duration(2*time.Hour), p.Threshold)
	require.Equal(t, config.Duration(30*time.Second), p.GroupInterval)
	require.Equal(t, config.Duration(72*time.Hour), p.ForgetAfter)
	require.Equal(t, "ru", p.Language)
	require.Equal(t, map[string]string{"alert": "PID {{.Job.PID}}"}, p.Templates)
	require.NoError(t, cfg.Processors[0].Init())
}

func TestReadmeContainsSampleConfig(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	require.Contains(t, string(readme), "```toml @sample.conf\n"+sampleConfig+"```")
}

func TestInitErrors(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*AlertState)
		want string
	}{
		{"zero threshold", func(p *AlertState) { p.Threshold = 0 }, `invalid 'threshold' "0s": must be greater than zero`},
		{"negative threshold", func(p *AlertState) { p.Threshold = config.Duration(-time.Minute) }, `invalid 'threshold' "-1m0s"`},
		{"zero cooldown", func(p *AlertState) { p.Cooldown = 0 }, `invalid 'cooldown' "0s"`},
		{"unknown language", func(p *AlertState) { p.Language = "de" }, `invalid 'language' "de": want "en" or "ru"`},
		{"digest_after zero", func(p *AlertState) { p.DigestAfter = 0 }, `invalid 'digest_after' "0": must be at least 1`},
		{"negative group_interval", func(p *AlertState) { p.GroupInterval = config.Duration(-time.Second) }, `invalid 'group_interval' "-1s": must not be negative`},
		{"failed scans zero", func(p *AlertState) { p.FailedScansBeforeAlert = 0 }, `invalid 'failed_scans_before_alert' "0"`},
		{"forget_after too short", func(p *AlertState) { p.ForgetAfter = config.Duration(time.Minute) }, `invalid 'forget_after' "1m0s": must be at least 1h0m0s`},
		{"empty measurement", func(p *AlertState) { p.Measurement = "" }, `invalid 'measurement' ""`},
		{"empty scan measurement", func(p *AlertState) { p.ScanMeasurement = "" }, `invalid 'scan_measurement' ""`},
		{"empty alert measurement", func(p *AlertState) { p.AlertMeasurement = "" }, `invalid 'alert_measurement' ""`},
		{"alert measurement loops", func(p *AlertState) { p.AlertMeasurement = "procblocking" }, `invalid 'alert_measurement' "procblocking"`},
		{"template does not parse", func(p *AlertState) { p.Templates = map[string]string{"alert": "{{.Job.PID"} }, `invalid 'templates.alert' "{{.Job.PID"`},
		{"template names a missing field", func(p *AlertState) { p.Templates = map[string]string{"recovery": "{{.Job.Nope}}"} }, `invalid 'templates.recovery'`},
		{"template fails on a digest", func(p *AlertState) { p.Templates = map[string]string{"alert": "{{index .Job.Others 0}}"} }, `invalid 'templates.alert'`},
		{"unknown template", func(p *AlertState) { p.Templates = map[string]string{"alrt": "x"} }, `invalid 'templates' key "alrt"`},
		{"state file is a directory", func(p *AlertState) { p.StateFile = os.TempDir() }, `invalid 'state_file'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := factory()
			p.Log = testutil.Logger{}
			tt.mod(p)
			require.ErrorContains(t, p.Init(), tt.want)
		})
	}
}

// The threshold is the user's policy: no warning names another one.
func TestNoThresholdPolicyWarning(t *testing.T) {
	log := &testutil.CaptureLogger{}
	plugin(t, func(p *AlertState) { p.Threshold = config.Duration(time.Minute); p.Log = log })
	require.Empty(t, log.Warnings())
}

// TC-05 of the reference, through Apply with metrics shaped as the input's,
// one metric per call as the agent does.
func TestApplyTC05(t *testing.T) {
	p := plugin(t, nil)
	created := t0.Add(-2 * time.Hour)
	var got []telegraf.Metric
	feed := func(ms ...telegraf.Metric) {
		for _, m := range ms {
			got = append(got, p.Apply(m)...)
		}
	}
	feed(procMetric("h1", 7, created, secs(0)), scanMetric("h1", secs(0), true, 1))
	feed(procMetric("h1", 7, created, secs(100)), scanMetric("h1", secs(100), true, 1))
	feed(procMetric("h1", 7, created, secs(1100)), scanMetric("h1", secs(1100), true, 1))
	feed(scanMetric("h1", secs(1200), true, 0))
	feed(scanMetric("h1", secs(1300), true, 0))

	want := []telegraf.Metric{
		procMetric("h1", 7, created, secs(0)),
		scanMetric("h1", secs(0), true, 1),
		alertMetric("alert", "h1", 7, created, secs(0), 1, secs(0), secs(0)),
		procMetric("h1", 7, created, secs(100)),
		scanMetric("h1", secs(100), true, 1),
		procMetric("h1", 7, created, secs(1100)),
		scanMetric("h1", secs(1100), true, 1),
		alertMetric("realert", "h1", 7, created, secs(1100), 2, secs(0), secs(1100)),
		scanMetric("h1", secs(1200), true, 0),
		alertMetric("recovery", "h1", 7, created, secs(1200), 2, secs(0), secs(1100)),
		scanMetric("h1", secs(1300), true, 0),
	}
	testutil.RequireMetricsEqual(t, want, got, testutil.IgnoreFields("message"))
}

// A batch keeps every metric in place, events right after their scan.
func TestApplyBatchOrderAndPassThrough(t *testing.T) {
	p := plugin(t, nil)
	created := t0.Add(-2 * time.Hour)
	other := metric.New("cpu", map[string]string{"host": "h1"}, map[string]interface{}{"usage": 1.0}, t0)
	in := []telegraf.Metric{
		other,
		procMetric("h1", 7, created, t0),
		procMetric("h1", 8, t0.Add(-time.Minute), t0), // young: no alert
		scanMetric("h1", t0, true, 2),
		other.Copy(),
	}
	want := []telegraf.Metric{
		other,
		procMetric("h1", 7, created, t0),
		procMetric("h1", 8, t0.Add(-time.Minute), t0),
		scanMetric("h1", t0, true, 2),
		alertMetric("alert", "h1", 7, created, t0, 1, t0, t0),
		other,
	}
	got := p.Apply(in...)
	testutil.RequireMetricsEqual(t, want, got, testutil.IgnoreFields("message"))

	// Nothing to say: the very same slice comes back.
	quiet := []telegraf.Metric{other, procMetric("h1", 9, t0, t0.Add(time.Second))}
	out := p.Apply(quiet...)
	require.Same(t, &quiet[0], &out[0])
	require.Len(t, out, 2)
}

// Failed scans through Apply: exactly one scan_failed with the error, then
// one scan_recovered, and never a recovery from a failed scan.
func TestApplyFailedScans(t *testing.T) {
	p := plugin(t, nil)
	created := t0.Add(-2 * time.Hour)
	var got []telegraf.Metric
	feed := func(ms ...telegraf.Metric) { got = append(got, events(p.Apply(ms...))...) }
	feed(procMetric("h1", 7, created, secs(0)), scanMetric("h1", secs(0), true, 1))
	for i := 1; i <= 6; i++ {
		feed(scanMetric("h1", secs(float64(i*10)), false, 0))
	}
	feed(procMetric("h1", 7, created, secs(70)), scanMetric("h1", secs(70), true, 1))
	want := []telegraf.Metric{
		alertMetric("alert", "h1", 7, created, secs(0), 1, secs(0), secs(0)),
		metric.New("procblocking_alert", map[string]string{"event": "scan_failed", "host": "h1"},
			map[string]interface{}{"count": int64(3), "error": "open /proc: permission denied"}, secs(30)),
		metric.New("procblocking_alert", map[string]string{"event": "scan_recovered", "host": "h1"},
			map[string]interface{}{"count": int64(6)}, secs(70)),
	}
	testutil.RequireMetricsEqual(t, want, got, testutil.IgnoreFields("message"))
	require.Contains(t, messageOf(t, got[1]), "open /proc: permission denied")
}

// A metric named like the scans but without a boolean ok is not a scan of
// the input (here as aggregators.minmax makes one): it passes through
// untouched, closes nothing, proves nothing gone and fails nothing.
func TestApplyScanWithoutOKPassesThrough(t *testing.T) {
	p := plugin(t, func(p *AlertState) { p.FailedScansBeforeAlert = 1 })
	p.Apply(procMetric("h1", 7, t0.Add(-2*time.Hour), t0), scanMetric("h1", t0, true, 1))
	for _, fields := range []map[string]interface{}{
		{"matched_min": int64(0), "matched_max": int64(1)},
		{"ok": "true", "matched": int64(0)},
	} {
		aggregated := metric.New("procblocking_scan", map[string]string{"host": "h1"}, fields, t0.Add(time.Second))
		out := p.Apply(aggregated)
		require.Equal(t, []telegraf.Metric{aggregated}, out)
	}
	// Nor is a process metric without age_seconds.
	aggregated := metric.New("procblocking", map[string]string{"host": "h1", "pid": "8"},
		map[string]interface{}{"age_seconds_min": 9000.0, "age_seconds_max": 9000.0}, t0.Add(2*time.Second))
	require.Equal(t, []telegraf.Metric{aggregated}, p.Apply(aggregated))
	require.Equal(t, 1, p.machine.Jobs())
	require.False(t, p.machine.Dirty())
	// The next real scan still sees job 7 alerted, and no failure.
	require.Empty(t, alertEvents(p.Apply(procMetric("h1", 7, t0.Add(-2*time.Hour), t0.Add(time.Minute)), scanMetric("h1", t0.Add(time.Minute), true, 1))))
}

// The hot path: a tracked job's process on every scan allocates nothing.
func trackedPlugin(t testing.TB, n int) *AlertState {
	p := plugin(t, nil)
	in := make([]telegraf.Metric, 0, n+1)
	for i := range n {
		in = append(in, procMetric("h1", 100000+i, t0.Add(-2*time.Hour), t0))
	}
	in = append(in, scanMetric("h1", t0, true, int64(n)))
	p.Apply(in...)
	require.Equal(t, n, p.machine.Jobs())
	return p
}

func TestApplyTrackedAllocations(t *testing.T) {
	p := trackedPlugin(t, 1000)
	at := t0.Add(10 * time.Second)
	batch := make([]telegraf.Metric, 0, 1001)
	for i := range 1000 {
		batch = append(batch, procMetric("h1", 100000+i, t0.Add(-2*time.Hour), at))
	}
	batch = append(batch, scanMetric("h1", at, true, 1000))
	p.Apply(batch...) // grows the buffers once
	// The next scan: one not newer than the last decided would be skipped
	// as a replay.
	at = at.Add(10 * time.Second)
	for _, m := range batch {
		m.SetTime(at)
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		p.Apply(batch[i])
		i++
	})
	require.Zero(t, allocs, "per tracked process")
	require.Equal(t, at.UnixNano(), p.machine.Snapshot().Sources[0].DecidedAt, "the scan was decided on")

	young := procMetric("h1", 7, t0.Add(-time.Minute), at.Add(10*time.Second))
	require.Zero(t, testing.AllocsPerRun(1000, func() { p.Apply(young) }), "per process under the threshold")
}

// Measures the memory held per alerted job and keeps it bounded; the README
// quotes the figure.
func TestMemoryPerAlertedJob(t *testing.T) {
	const n = 10000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p := trackedPlugin(t, n)
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("heap per alerted job: %.0f bytes (cmdline of 24 bytes, 3 tags)", per)
	require.Less(t, per, 2048.0)
	runtime.KeepAlive(p)
}
