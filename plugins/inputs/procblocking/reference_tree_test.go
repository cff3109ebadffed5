//go:build linux

package procblocking

import (
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// The reference watchdog's TC-06 tree (test_tc06_collector_excludes_non_
// matching_processes): a claude agent and a pytest, both stat lines with a
// ppid of 0, no status and no cgroup files. The reference reported only the
// pytest, and so must this scanner, without an error, with the default
// pattern as with the reference's "pytest".
func TestReferenceTC06Tree(t *testing.T) {
	for _, patterns := range [][]string{nil, {"pytest"}} {
		root := fixtureTree(t, "proc_tc06")
		now := time.Unix(1_010_000, 0)
		p := newPlugin(t)
		p.Patterns = patterns
		p.ProcRoot = root
		p.state.now = func() time.Time { return now }
		require.NoError(t, p.Init())
		acc := gather(t, p, root)
		require.Empty(t, acc.Errors)

		pattern := "pytest"
		want := []telegraf.Metric{
			metric.New("procblocking",
				map[string]string{"pattern": pattern, "pid": "200"},
				map[string]any{
					"age_seconds":    10_000.0,
					"cpu_seconds":    0.0,
					"created_at":     int64(1_000_000) * 1e9,
					"ppid":           int64(0),
					"orphan":         false,
					"state":          "S",
					"comm":           "python3",
					"threads":        int64(0),
					"rss_bytes":      int64(0),
					"cmdline":        "python3 -m pytest tests/test_x.py",
					"job_pid":        int64(200),
					"job_created_at": int64(1_000_000) * 1e9,
				}, now),
			metric.New("procblocking_scan", map[string]string{},
				map[string]any{
					"processes":   int64(2),
					"matched":     int64(1),
					"descendants": int64(0),
					"errors":      int64(0),
					"duration_ms": 0.0,
					"ok":          true,
					// A tree without self cannot show that it is the host's.
					"host_view": false,
				}, now),
		}
		testutil.RequireMetricsEqual(t, want, acc.GetTelegrafMetrics(), testutil.IgnoreFields("duration_ms"))
	}
}
