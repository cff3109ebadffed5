package alertstate

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/processors"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// plugin returns the processor with the defaults of its factory, changed by
// mod, initialised.
func plugin(t testing.TB, mod func(*AlertState)) *AlertState {
	t.Helper()
	p := &AlertState{
		Measurement:            "procblocking",
		ScanMeasurement:        "procblocking_scan",
		Threshold:              config.Duration(time.Hour),
		Cooldown:               config.Duration(1000 * time.Second),
		SendRecovery:           true,
		AlertMeasurement:       "procblocking_alert",
		DigestAfter:            5,
		FailedScansBeforeAlert: 3,
		Language:               "en",
		Log:                    testutil.Logger{},
	}
	if mod != nil {
		mod(p)
	}
	require.NoError(t, p.Init())
	return p
}

// procMetric is a procblocking metric as the input emits it.
func procMetric(host string, pid int, created, at time.Time) telegraf.Metric {
	return metric.New("procblocking",
		map[string]string{"host": host, "pattern": "pytest", "pid": strconv.Itoa(pid)},
		map[string]interface{}{
			"age_seconds": at.Sub(created).Seconds(),
			"cpu_seconds": 1234.5,
			"cpu_usage":   99.5,
			"created_at":  created.UnixNano(),
			"ppid":        int64(1),
			"orphan":      true,
			"state":       "R",
			"comm":        "python3",
			"threads":     int64(3),
			"rss_bytes":   int64(52428800),
			"cmdline":     "python3 -m pytest tests/",
		},
		at)
}

func scanMetric(host string, at time.Time, ok bool, matched int64) telegraf.Metric {
	fields := map[string]interface{}{
		"processes": int64(200), "matched": matched, "errors": int64(0), "duration_ms": 3.5, "ok": ok,
	}
	if !ok {
		fields["error"] = "open /proc: permission denied"
	}
	return metric.New("procblocking_scan", map[string]string{"host": host}, fields, at)
}

// alertMetric is the expected single-process event for procMetric's process.
func alertMetric(event, host string, pid int, created, at time.Time, sent int64, firstAlert time.Time, ageAt time.Time) telegraf.Metric {
	return metric.New("procblocking_alert",
		map[string]string{"event": event, "host": host, "pattern": "pytest", "pid": strconv.Itoa(pid)},
		map[string]interface{}{
			"count":          int64(1),
			"pid":            int64(pid),
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
	require.Equal(t, 3, p.FailedScansBeforeAlert)
	require.Equal(t, "en", p.Language)
	require.Empty(t, p.StateFile)
	require.NoError(t, cfg.Processors[0].Init())

	// Options and templates as a user writes them.
	cfg = config.NewConfig()
	require.NoError(t, cfg.LoadConfigData([]byte(`
[[processors.alertstate]]
  threshold = "2h"
  cooldown = "10m"
  language = "ru"
  digest_after = 2
  [processors.alertstate.templates]
    alert = "PID {{.Process.PID}}"
`), "user.conf"))
	p = cfg.Processors[0].Processor.(processors.HasUnwrap).Unwrap().(*AlertState)
	require.Equal(t, config.Duration(2*time.Hour), p.Threshold)
	require.Equal(t, "ru", p.Language)
	require.Equal(t, map[string]string{"alert": "PID {{.Process.PID}}"}, p.Templates)
}

func TestReadmeContainsSampleConfig(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	require.Contains(t, string(readme), "```toml\n"+sampleConfig+"```")
}

func TestInitErrors(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*AlertState)
		want string
	}{
		{"zero threshold", func(p *AlertState) { p.Threshold = 0 }, `invalid 'threshold' "0s"`},
		{"negative threshold", func(p *AlertState) { p.Threshold = config.Duration(-time.Minute) }, `invalid 'threshold' "-1m0s"`},
		{"zero cooldown", func(p *AlertState) { p.Cooldown = 0 }, `invalid 'cooldown' "0s"`},
		{"unknown language", func(p *AlertState) { p.Language = "de" }, `invalid 'language' "de": want "en" or "ru"`},
		{"digest_after zero", func(p *AlertState) { p.DigestAfter = 0 }, `invalid 'digest_after' 0`},
		{"failed scans zero", func(p *AlertState) { p.FailedScansBeforeAlert = 0 }, `invalid 'failed_scans_before_alert' 0`},
		{"empty measurement", func(p *AlertState) { p.Measurement = "" }, `invalid 'measurement'`},
		{"empty scan measurement", func(p *AlertState) { p.ScanMeasurement = "" }, `invalid 'scan_measurement'`},
		{"empty alert measurement", func(p *AlertState) { p.AlertMeasurement = "" }, `invalid 'alert_measurement'`},
		{"alert measurement loops", func(p *AlertState) { p.AlertMeasurement = "procblocking" }, `invalid 'alert_measurement' "procblocking"`},
		{"template does not parse", func(p *AlertState) { p.Templates = map[string]string{"alert": "{{.Process.PID"} }, `invalid 'templates.alert'`},
		{"template names a missing field", func(p *AlertState) { p.Templates = map[string]string{"recovery": "{{.Process.Nope}}"} }, `invalid 'templates.recovery'`},
		{"unknown template", func(p *AlertState) { p.Templates = map[string]string{"alrt": "x"} }, `invalid 'templates' key "alrt"`},
		{"state file is a directory", func(p *AlertState) { p.StateFile = os.TempDir() }, `invalid 'state_file'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &AlertState{
				Measurement: "procblocking", ScanMeasurement: "procblocking_scan", AlertMeasurement: "procblocking_alert",
				Threshold: config.Duration(time.Hour), Cooldown: config.Duration(time.Hour),
				DigestAfter: 5, FailedScansBeforeAlert: 3, Language: "en", Log: testutil.Logger{},
			}
			tt.mod(p)
			require.ErrorContains(t, p.Init(), tt.want)
		})
	}
}

func TestInitWarnsOnLowThreshold(t *testing.T) {
	for _, tc := range []struct {
		threshold time.Duration
		warn      bool
	}{{15 * time.Minute, true}, {16 * time.Minute, false}} {
		log := &testutil.CaptureLogger{}
		plugin(t, func(p *AlertState) { p.Threshold = config.Duration(tc.threshold); p.Log = log })
		if tc.warn {
			require.Len(t, log.Warnings(), 1)
			require.Contains(t, log.Warnings()[0], "'threshold' 15m0s")
		} else {
			require.Empty(t, log.Warnings())
		}
	}
}

// TC-05 of the seed, through Apply with real metrics, one metric per call
// as the agent does.
func TestApplyTC05(t *testing.T) {
	p := plugin(t, nil)
	created := t0.Add(-2 * time.Hour)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

	var got []telegraf.Metric
	feed := func(ms ...telegraf.Metric) {
		for _, m := range ms {
			got = append(got, p.Apply(m)...)
		}
	}
	feed(procMetric("h1", 7, created, at(0)), scanMetric("h1", at(0), true, 1))
	feed(procMetric("h1", 7, created, at(100)), scanMetric("h1", at(100), true, 1))
	feed(procMetric("h1", 7, created, at(1100)), scanMetric("h1", at(1100), true, 1))
	feed(scanMetric("h1", at(1200), true, 0))
	feed(scanMetric("h1", at(1300), true, 0))

	want := []telegraf.Metric{
		procMetric("h1", 7, created, at(0)),
		scanMetric("h1", at(0), true, 1),
		alertMetric("alert", "h1", 7, created, at(0), 1, at(0), at(0)),
		procMetric("h1", 7, created, at(100)),
		scanMetric("h1", at(100), true, 1),
		procMetric("h1", 7, created, at(1100)),
		scanMetric("h1", at(1100), true, 1),
		alertMetric("realert", "h1", 7, created, at(1100), 2, at(0), at(1100)),
		scanMetric("h1", at(1200), true, 0),
		alertMetric("recovery", "h1", 7, created, at(1200), 2, at(0), at(1100)),
		scanMetric("h1", at(1300), true, 0),
	}
	testutil.RequireMetricsEqual(t, want, got, testutil.IgnoreFields("message"))
	for _, m := range got {
		if m.Name() == "procblocking_alert" {
			msg, ok := m.GetField("message")
			require.True(t, ok)
			require.Contains(t, msg, "PID 7")
		}
	}
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
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	var events []telegraf.Metric
	feed := func(ms ...telegraf.Metric) {
		for _, m := range p.Apply(ms...) {
			if m.Name() == "procblocking_alert" {
				events = append(events, m)
			}
		}
	}
	feed(procMetric("h1", 7, created, at(0)), scanMetric("h1", at(0), true, 1))
	for i := 1; i <= 6; i++ {
		feed(scanMetric("h1", at(i*10), false, 0))
	}
	feed(procMetric("h1", 7, created, at(70)), scanMetric("h1", at(70), true, 1))
	want := []telegraf.Metric{
		alertMetric("alert", "h1", 7, created, at(0), 1, at(0), at(0)),
		metric.New("procblocking_alert", map[string]string{"event": "scan_failed", "host": "h1"},
			map[string]interface{}{"count": int64(3), "error": "open /proc: permission denied"}, at(30)),
		metric.New("procblocking_alert", map[string]string{"event": "scan_recovered", "host": "h1"},
			map[string]interface{}{"count": int64(6)}, at(70)),
	}
	testutil.RequireMetricsEqual(t, want, events, testutil.IgnoreFields("message"))
	msg, _ := events[1].GetField("message")
	require.Contains(t, msg, "open /proc: permission denied")
}

// A scan metric without a boolean ok cannot prove a process gone.
func TestApplyScanWithoutOK(t *testing.T) {
	p := plugin(t, func(p *AlertState) { p.FailedScansBeforeAlert = 1 })
	created := t0.Add(-2 * time.Hour)
	p.Apply(procMetric("h1", 7, created, t0), scanMetric("h1", t0, true, 1))
	bad := metric.New("procblocking_scan", map[string]string{"host": "h1"}, map[string]interface{}{"matched": int64(0)}, t0.Add(time.Second))
	out := p.Apply(bad)
	require.Len(t, out, 2)
	ev, _ := out[1].GetTag("event")
	require.Equal(t, "scan_failed", ev)
	errText, _ := out[1].GetField("error")
	require.Equal(t, "scan metric has no 'ok' field", errText)
	require.Equal(t, 1, p.machine.Tracked())
}

// Messages, whole, in both languages.
func TestMessages(t *testing.T) {
	created := t0.Add(-(2*time.Hour + 3*time.Minute + 10*time.Second))
	run := func(lang string) []string {
		p := plugin(t, func(p *AlertState) { p.Language = lang })
		var msgs []string
		collect := func(ms []telegraf.Metric) {
			for _, m := range ms {
				if m.Name() == "procblocking_alert" {
					msg, _ := m.GetField("message")
					msgs = append(msgs, msg.(string))
				}
			}
		}
		collect(p.Apply(procMetric("h1", 4242, created, t0), scanMetric("h1", t0, true, 1)))
		later := t0.Add(1000 * time.Second)
		collect(p.Apply(procMetric("h1", 4242, created, later), scanMetric("h1", later, true, 1)))
		collect(p.Apply(scanMetric("h1", later.Add(time.Minute), true, 0)))
		for i := 1; i <= 3; i++ {
			collect(p.Apply(scanMetric("h1", later.Add(time.Duration(i)*time.Hour), false, 0)))
		}
		collect(p.Apply(scanMetric("h1", later.Add(4*time.Hour), true, 0)))
		return msgs
	}
	require.Equal(t, []string{
		"ALERT: blocking process on h1\n" +
			"PID 4242 (pattern \"pytest\") has been running for 2h 03m (7390 s).\n" +
			"CPU time: 1234.5 s, now 99.5% of one core\n" +
			"Orphaned: yes, reparented to PID 1 (whatever started it is gone).\n" +
			"Action: find out whether anything still needs it; if not, stop it (kill 4242, as seen from the host).\n" +
			"Command: python3 -m pytest tests/",
		"STILL BLOCKING: process on h1 (alert #2)\n" +
			"PID 4242 (pattern \"pytest\") has been running for 2h 19m (8390 s).\n" +
			"CPU time: 1234.5 s, now 99.5% of one core\n" +
			"Orphaned: yes, reparented to PID 1 (whatever started it is gone).\n" +
			"Action: find out whether anything still needs it; if not, stop it (kill 4242, as seen from the host).\n" +
			"Command: python3 -m pytest tests/",
		"RECOVERY: blocking process on h1\n" +
			"PID 4242 (pattern \"pytest\") is gone after running for 2h 19m (8390 s); 2 alert(s) were sent.\n" +
			"Command: python3 -m pytest tests/",
		"WATCHDOG BLIND: 3 consecutive process scans on h1 failed: open /proc: permission denied\n" +
			"Blocking processes cannot be detected until scans succeed again.",
		"WATCHDOG BACK: process scans on h1 succeed again after 3 failed ones.",
	}, run("en"))
	require.Equal(t, []string{
		"ТРЕВОГА: блокирующий процесс на h1\n" +
			"PID 4242 (шаблон \"pytest\") работает уже 2ч 03м (7390 с).\n" +
			"Время CPU: 1234.5 с, сейчас 99.5% одного ядра\n" +
			"Сирота: да, переподчинён PID 1 (тот, кто его запустил, уже завершился).\n" +
			"Что делать: выясните, нужен ли он ещё; если нет, остановите его (kill 4242, PID в пространстве хоста).\n" +
			"Команда: python3 -m pytest tests/",
		"ВСЁ ЕЩЁ БЛОКИРУЕТ: процесс на h1 (оповещение №2)\n" +
			"PID 4242 (шаблон \"pytest\") работает уже 2ч 19м (8390 с).\n" +
			"Время CPU: 1234.5 с, сейчас 99.5% одного ядра\n" +
			"Сирота: да, переподчинён PID 1 (тот, кто его запустил, уже завершился).\n" +
			"Что делать: выясните, нужен ли он ещё; если нет, остановите его (kill 4242, PID в пространстве хоста).\n" +
			"Команда: python3 -m pytest tests/",
		"ВОССТАНОВЛЕНИЕ: блокирующий процесс на h1\n" +
			"PID 4242 (шаблон \"pytest\") завершился, проработав 2ч 19м (8390 с); отправлено оповещений: 2.\n" +
			"Команда: python3 -m pytest tests/",
		"НАБЛЮДЕНИЕ НЕДОСТУПНО: 3 сканирований процессов подряд на h1 завершились ошибкой: open /proc: permission denied\n" +
			"Блокирующие процессы не обнаруживаются, пока сканирование не заработает снова.",
		"НАБЛЮДЕНИЕ ВОССТАНОВЛЕНО: сканирование процессов на h1 снова работает после 3 неудачных.",
	}, run("ru"))
}

func TestDigest(t *testing.T) {
	for _, n := range []int{50, 2000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			p := plugin(t, nil)
			var in []telegraf.Metric
			for i := range n {
				in = append(in, procMetric("h1", 1000+i, t0.Add(-2*time.Hour-time.Duration(i)*time.Minute), t0))
			}
			in = append(in, scanMetric("h1", t0, true, int64(n)))
			out := p.Apply(in...)
			require.Len(t, out, n+2)
			digest := out[n+1]
			testutil.RequireMetricsEqual(t, []telegraf.Metric{
				metric.New("procblocking_alert", map[string]string{"event": "alert", "host": "h1"},
					map[string]interface{}{"count": int64(n)}, t0),
			}, []telegraf.Metric{digest}, testutil.IgnoreFields("message"))
			msg, _ := digest.GetField("message")
			lines := strings.Split(msg.(string), "\n")
			require.Equal(t, fmt.Sprintf("ALERT: %d blocking processes on h1", n), lines[0])
			require.Len(t, lines, 12, "title, ten processes, the rest")
			require.Equal(t, `- PID 1000, 2h 00m, pattern "pytest": python3 -m pytest tests/`, lines[1])
			require.Equal(t, `- PID 1009, 2h 09m, pattern "pytest": python3 -m pytest tests/`, lines[10])
			require.Equal(t, fmt.Sprintf("and %d more", n-10), lines[11])
			require.Equal(t, n, p.machine.Tracked(), "per-process state for each")
		})
	}
}

func TestTemplateOverride(t *testing.T) {
	p := plugin(t, func(p *AlertState) {
		p.Templates = map[string]string{
			"alert":    `{{if .Digest}}{{.Count}} on {{.Host}}{{else}}{{.Process.Pattern}} {{.Process.PID}} {{.Process.Age}} orphan={{.Process.Orphan}} {{truncate 6 .Process.Cmdline}}{{end}}`,
			"recovery": `gone {{.Process.PID}} after {{.Process.Lived}}, {{.Process.AlertsSent}} alert(s)`,
		}
	})
	created := t0.Add(-2 * time.Hour)
	out := p.Apply(procMetric("h1", 7, created, t0), scanMetric("h1", t0, true, 1))
	msg, _ := out[2].GetField("message")
	require.Equal(t, "pytest 7 2h 00m orphan=true pytho…", msg)
	out = p.Apply(scanMetric("h1", t0.Add(time.Minute), true, 0))
	msg, _ = out[1].GetField("message")
	require.Equal(t, "gone 7 after 2h 00m, 1 alert(s)", msg)
}

// A 100 kB command line of multi-byte characters stays under the limit and
// is cut between characters.
func TestLongCmdline(t *testing.T) {
	p := plugin(t, nil)
	m := procMetric("h1", 7, t0.Add(-2*time.Hour), t0)
	long := strings.Repeat("тест-", 20000) // 5 runes, 9 bytes each
	require.Greater(t, len(long), 100_000)
	m.AddField("cmdline", long)
	out := p.Apply(m, scanMetric("h1", t0, true, 1))
	require.Len(t, out, 3)
	msg := out[2].Fields()["message"].(string)
	require.True(t, utf8.ValidString(msg))
	require.Equal(t, maxMessageRunes, utf8.RuneCountInString(msg))
	require.True(t, strings.HasSuffix(msg, "…"))
	require.True(t, strings.HasPrefix(msg, "ALERT: blocking process on h1\n"))
	// The field keeps what the input sent (it already bounds it).
	require.Equal(t, long, out[2].Fields()["cmdline"])
}

func TestControlCharactersCannotFakeLines(t *testing.T) {
	p := plugin(t, nil)
	m := procMetric("h1", 7, t0.Add(-2*time.Hour), t0)
	m.AddField("cmdline", "pytest\nRECOVERY: all good\x00\xff")
	out := p.Apply(m, scanMetric("h1", t0, true, 1))
	msg := out[2].Fields()["message"].(string)
	require.True(t, utf8.ValidString(msg))
	require.Contains(t, msg, "Command: pytest RECOVERY: all good \uFFFD")
	require.NotContains(t, msg, "\nRECOVERY")
}

func TestGetSetStateRoundTrip(t *testing.T) {
	p := plugin(t, nil)
	created := t0.Add(-2 * time.Hour)
	p.Apply(procMetric("h1", 7, created, t0), procMetric("h1", 8, created, t0), scanMetric("h1", t0, true, 2))
	st := p.GetState().(State)
	require.Len(t, st.Processes, 2)

	// A fresh instance takes Telegraf's state and behaves as the old one:
	// no second alert within the cooldown, recovery for the one gone.
	q := plugin(t, nil)
	require.Zero(t, q.machine.Tracked())
	require.NoError(t, q.SetState(st))
	require.Equal(t, st, q.GetState())
	later := t0.Add(time.Minute)
	out := q.Apply(procMetric("h1", 7, created, later), scanMetric("h1", later, true, 1))
	testutil.RequireMetricsEqual(t, []telegraf.Metric{
		procMetric("h1", 7, created, later),
		scanMetric("h1", later, true, 1),
		alertMetric("recovery", "h1", 8, created, later, 1, t0, t0),
	}, out, testutil.IgnoreFields("message"))

	// An older state than the one held is ignored.
	require.NoError(t, q.SetState(st))
	require.Equal(t, 1, q.machine.Tracked())
	require.ErrorContains(t, q.SetState("nope"), "wrong type")

	// An invalid one is logged and ignored: it must not stop the agent.
	log := &testutil.CaptureLogger{}
	q.Log = log
	require.NoError(t, q.SetState(State{Version: 9, Generation: 1000}))
	require.Len(t, log.Warnings(), 1)
	require.Contains(t, log.Warnings()[0], "unsupported state version 9")
	require.Equal(t, 1, q.machine.Tracked())
}

// The hot path: a process under the threshold with 10,000 processes tracked.
func trackedPlugin(t testing.TB, n int) *AlertState {
	p := plugin(t, nil)
	in := make([]telegraf.Metric, 0, n+1)
	for i := range n {
		in = append(in, procMetric("h1", 100000+i, t0.Add(-2*time.Hour), t0))
	}
	in = append(in, scanMetric("h1", t0, true, int64(n)))
	p.Apply(in...)
	require.Equal(t, n, p.machine.Tracked())
	return p
}

func TestApplyBelowThresholdAllocations(t *testing.T) {
	p := trackedPlugin(t, 10000)
	m := procMetric("h1", 7, t0.Add(-time.Minute), t0.Add(time.Second))
	batch := []telegraf.Metric{m}
	allocs := testing.AllocsPerRun(1000, func() { p.Apply(batch...) })
	require.LessOrEqual(t, allocs, 2.0)
}

// Measures the memory held per alerted process and keeps it bounded; the
// README quotes the figure.
func TestMemoryPerAlertedProcess(t *testing.T) {
	const n = 10000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p := trackedPlugin(t, n)
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("heap per alerted process: %.0f bytes (cmdline of 24 bytes, 3 tags)", per)
	require.Less(t, per, 2048.0)
	runtime.KeepAlive(p)
}

func BenchmarkApplyBelowThreshold(b *testing.B) {
	p := trackedPlugin(b, 10000)
	m := procMetric("h1", 7, t0.Add(-time.Minute), t0.Add(time.Second))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p.Apply(m)
	}
}
