package alertstate

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/processors"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	_ "github.com/procblocking/procblocking/plugins/inputs/procblocking"
	"github.com/procblocking/procblocking/plugins/processors/alertstate/internal/machine"
)

// The real input, configured from TOML like the agent does, scanning a fake
// /proc tree into the processor: the fixture's processes started in 2023, so
// every pytest one is far above the threshold.
func TestWithProcblockingInput(t *testing.T) {
	root := filepath.Join(t.TempDir(), "proc")
	require.NoError(t, os.CopyFS(root, os.DirFS(filepath.Join("testdata", "proc"))))

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
`), "watchdog.conf"))
	require.Len(t, cfg.Inputs, 1)
	require.Len(t, cfg.Processors, 1)
	require.NoError(t, cfg.Inputs[0].Init())
	require.NoError(t, cfg.Processors[0].Init())
	input := cfg.Inputs[0].Input
	p := cfg.Processors[0].Processor.(processors.HasUnwrap).Unwrap().(*AlertState)
	p.Log = testutil.Logger{}

	gather := func() ([]telegraf.Metric, []telegraf.Metric) {
		var acc testutil.Accumulator
		require.NoError(t, input.Gather(&acc))
		require.Empty(t, acc.Errors)
		in := acc.GetTelegrafMetrics()
		out := p.Apply(in...)
		require.GreaterOrEqual(t, len(out), len(in))
		testutil.RequireMetricsEqual(t, in, out[:len(in)])
		return in, out[len(in):]
	}

	in, events := gather()
	require.Equal(t, "procblocking_scan", in[len(in)-1].Name())
	var want []telegraf.Metric
	for _, m := range in {
		if m.Name() != "procblocking" {
			continue
		}
		want = append(want, expectedEvent("alert", m))
	}
	require.Len(t, want, 4, "pids 100, 300, 600 and 700 match the pattern")
	testutil.RequireMetricsEqual(t, want, events, testutil.IgnoreFields("message"))

	_, events = gather()
	require.Empty(t, events, "within the cooldown")

	require.NoError(t, os.RemoveAll(filepath.Join(root, "300")))
	in, events = gather()
	require.Equal(t, []string{"recovery 300"}, alertEvents(events))
	require.Len(t, in, 4, "three processes and the scan")
}

// expectedEvent is the single-job event for a procblocking metric of a
// process that is a job of its own.
func expectedEvent(kind string, m telegraf.Metric) telegraf.Metric {
	tags := map[string]string{"event": kind}
	for k, v := range m.Tags() {
		tags[k] = v
	}
	f := m.Fields()
	id := machine.AlertID(machine.SourceID(m.TagList(), telegrafTag), machine.JobID{PID: mustPID(m), CreatedAt: f["created_at"].(int64)})
	fields := map[string]interface{}{
		"count":          int64(1),
		"alert_id":       id,
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

func mustPID(m telegraf.Metric) int64 {
	tag, _ := m.GetTag("pid")
	pid, err := strconv.ParseInt(tag, 10, 64)
	if err != nil {
		panic(err)
	}
	return pid
}
