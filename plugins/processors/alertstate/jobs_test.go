package alertstate

import (
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// One stuck job, wrapped as real ones are (`timeout 600 sh -c "pytest ..."`):
// one alert naming its top process and listing the others with their
// command lines, every process metric passed through for the history, one
// realert, and one recovery once the top is gone; the pytest that outlives
// it is a job of its own.
func TestOneAlertPerJob(t *testing.T) {
	p := plugin(t, nil)
	top := proc{pid: 500, created: t0.Add(-2 * time.Hour), cmdline: "timeout 600 sh -c pytest tests/"}
	shell := proc{pid: 501, created: top.created.Add(time.Second), jobPID: 500, jobCreated: top.created, cmdline: "sh -c pytest tests/"}
	// Started five minutes ago: under the threshold itself, but part of
	// the job and listed in its alert.
	pytest := proc{pid: 502, created: t0.Add(-5 * time.Minute), jobPID: 500, jobCreated: top.created, cmdline: "python3 -m pytest tests/ -p xdist"}
	scan := func(s float64, ps ...proc) []telegraf.Metric {
		var in []telegraf.Metric
		for _, p := range ps {
			in = append(in, p.at(secs(s)))
		}
		return append(in, scanMetric("h1", secs(s), true, int64(len(ps))))
	}

	in := scan(0, pytest, top, shell)
	out := p.Apply(in...)
	testutil.RequireMetricsEqual(t, in, out[:len(in)], testutil.IgnoreFields("message"))
	ev := events(out)
	require.Len(t, ev, 1)
	testutil.RequireMetricsEqual(t, []telegraf.Metric{metric.New("procblocking_alert",
		map[string]string{"event": "alert", "host": "h1", "pattern": "pytest", "pid": "500"},
		map[string]interface{}{
			"count": int64(1), "alert_id": alertID("h1", 500, top.created), "job_processes": int64(3),
			"age_seconds": 7200.0, "cpu_seconds": 1234.5, "cpu_usage": 99.5, "orphan": true, "ppid": int64(1),
			"cmdline": "timeout 600 sh -c pytest tests/", "alerts_sent": int64(1), "first_alert_at": secs(0).UnixNano(),
		}, secs(0))}, ev, testutil.IgnoreFields("message"))
	msg := messageOf(t, ev[0])
	require.Contains(t, msg, "PID 500 (pytest) running for 2h 00m (7200 s)")
	require.Contains(t, msg, "CPU: 3703.5 s for the whole job, now 298.5% of a core")
	require.Contains(t, msg, "Also in this job (2):\nPID 501: sh -c pytest tests/\nPID 502: python3 -m pytest tests/ -p xdist\n")
	require.True(t, strings.HasSuffix(msg, "\nCommand: timeout 600 sh -c pytest tests/"), msg)

	require.Empty(t, events(p.Apply(scan(10, top, shell, pytest)...)))
	ev = events(p.Apply(scan(1000, top, shell, pytest)...))
	require.Equal(t, []string{"realert 500"}, alertEvents(ev))
	require.Equal(t, alertID("h1", 500, top.created), ev[0].Fields()["alert_id"], "one id for the job's alert, realerts and recovery")

	// The wrapper is killed; the pytest is reparented and is its own top,
	// 16 minutes old: under the threshold, so not alerted (yet).
	orphan := pytest
	orphan.jobPID = 0
	ev = events(p.Apply(scan(1060, orphan)...))
	require.Equal(t, []string{"recovery 500"}, alertEvents(ev))
	require.Equal(t, alertID("h1", 500, top.created), ev[0].Fields()["alert_id"])
	require.Equal(t, int64(3), ev[0].Fields()["job_processes"])

	// Past the threshold, it is alerted on its own.
	ev = events(p.Apply(scan(3600, orphan)...))
	require.Equal(t, []string{"alert 502"}, alertEvents(ev))
	require.Equal(t, alertID("h1", 502, pytest.created), ev[0].Fields()["alert_id"])
	require.Equal(t, int64(1), ev[0].Fields()["job_processes"])
}

// Metrics of an older input, without job_pid and job_created_at: each
// process is a job of its own.
func TestMetricsWithoutJobFields(t *testing.T) {
	p := plugin(t, nil)
	a := proc{pid: 500, created: t0.Add(-2 * time.Hour), noJobFields: true}
	b := proc{pid: 501, created: t0.Add(-2 * time.Hour), noJobFields: true}
	out := p.Apply(a.at(t0), b.at(t0), scanMetric("h1", t0, true, 2))
	require.Equal(t, []string{"alert 500", "alert 501"}, alertEvents(out))
	require.Equal(t, alertID("h1", 501, b.created), events(out)[1].Fields()["alert_id"])
}
