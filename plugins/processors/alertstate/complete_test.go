package alertstate

import (
	"testing"
	"time"

	"github.com/influxdata/telegraf/metric"
	"github.com/stretchr/testify/require"
)

// The scan metric tells how many process metrics it comes with: its
// matched processes and their descendants.
func TestReportedProcesses(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	scan := func(fields map[string]interface{}) int64 {
		fields["ok"] = true
		return reportedProcesses(metric.New("procblocking_scan", map[string]string{"host": "h"}, fields, at))
	}
	require.Equal(t, int64(5), scan(map[string]interface{}{"matched": int64(2), "descendants": int64(3)}))
	require.Equal(t, int64(-1), scan(map[string]interface{}{"matched": int64(2)}), "an input without descendants does not say")
	require.Equal(t, int64(-1), scan(map[string]interface{}{"matched": 2.0, "descendants": int64(0)}), "not the input's types")
}
