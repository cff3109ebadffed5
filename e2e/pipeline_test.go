package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/processors"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	_ "github.com/procblocking/procblocking/plugins/inputs/procblocking"
	"github.com/procblocking/procblocking/plugins/processors/alertstate"
)

// The real input, configured from TOML as the agent does, scanning the
// shared fake /proc tree into the real processor: the fixture's processes
// started in 2023, so every pytest one is far above the threshold.
func TestInputIntoAlertstateOverFixture(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "proc")
	require.NoError(t, os.CopyFS(root, os.DirFS(filepath.Join("..", "testdata", "proc_basic"))))

	cfg := config.NewConfig()
	require.NoError(t, cfg.LoadConfigData([]byte(`
[[inputs.procblocking]]
  patterns = ["pytest"]
  proc_root = "`+root+`"

[[processors.alertstate]]
  threshold = "60m"
  cooldown = "30m"
  ## The gathers follow each other within milliseconds: send the
  ## recovery at once rather than after the alerts' group window.
  group_interval = "0s"
  state_file = "`+filepath.Join(t.TempDir(), "alertstate.json")+`"
`), "watchdog.conf"))
	require.Len(t, cfg.Inputs, 1)
	require.Len(t, cfg.Processors, 1)
	require.NoError(t, cfg.Inputs[0].Init())
	require.NoError(t, cfg.Processors[0].Init())
	input := cfg.Inputs[0].Input
	p := cfg.Processors[0].Processor.(processors.HasUnwrap).Unwrap().(*alertstate.AlertState)
	p.Log = testutil.Logger{}

	gather := func() ([]telegraf.Metric, []telegraf.Metric) {
		var acc testutil.Accumulator
		require.NoError(t, input.Gather(&acc))
		require.Empty(t, acc.Errors)
		in := acc.GetTelegrafMetrics()
		out := p.Apply(in...)
		require.GreaterOrEqual(t, len(out), len(in))
		testutil.RequireMetricsEqual(t, in, out[:len(in)]) // passed through unchanged
		return in, out[len(in):]
	}

	in, events := gather()
	require.Equal(t, "procblocking_scan", in[len(in)-1].Name())
	var want []telegraf.Metric
	for _, m := range in {
		if m.Name() == "procblocking" {
			want = append(want, expectedAlert(m))
		}
	}
	require.Len(t, want, 4, "pids 100, 300, 600 and 700 match the pattern")
	testutil.RequireMetricsEqual(t, want, events, testutil.IgnoreFields("message", "alert_id"))
	ids := map[string]bool{}
	for _, ev := range events {
		id, _ := ev.GetField("alert_id")
		require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{16}$`), id)
		ids[id.(string)] = true
	}
	require.Len(t, ids, 4, "one alert id per job")

	_, events = gather()
	require.Empty(t, events, "within the cooldown")

	require.NoError(t, os.RemoveAll(filepath.Join(root, "300")))
	in, events = gather()
	require.Len(t, events, 1)
	kind, _ := events[0].GetTag("event")
	pid, _ := events[0].GetTag("pid")
	require.Equal(t, "recovery 300", kind+" "+pid)
	require.Len(t, in, 4, "three processes and the scan")
}

// expectedAlert is the alert event for a procblocking metric of a process
// that is a job of its own, but for its message and alert id.
func expectedAlert(m telegraf.Metric) telegraf.Metric {
	tags := map[string]string{"event": "alert"}
	for k, v := range m.Tags() {
		tags[k] = v
	}
	f := m.Fields()
	fields := map[string]interface{}{
		"count":          int64(1),
		"job_processes":  int64(1),
		"age_seconds":    f["age_seconds"],
		"cpu_seconds":    f["cpu_seconds"],
		"ppid":           f["ppid"],
		"cmdline":        f["cmdline"],
		"alerts_sent":    int64(1),
		"first_alert_at": m.Time().UnixNano(),
	}
	for _, k := range []string{"cpu_usage", "container_id", "orphan"} {
		if v, ok := f[k]; ok {
			fields[k] = v
		}
	}
	return metric.New("procblocking_alert", tags, fields, m.Time())
}
