package alertstate

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/influxdata/telegraf"
	"github.com/stretchr/testify/require"
)

// An orchestrator dies: 300 orphaned jobs, started at different times, cross
// the threshold over 60 s of scans, then end over another 60 s. A handful of
// events carry them within a minute or two, each message within 4000 runes,
// every job in exactly one alert event and one recovery event.
func TestBurstOf300(t *testing.T) {
	const n = 300
	p := plugin(t, nil)
	alerts, recoveries := map[string]int{}, map[string]int{}
	var sent []string
	var firstOver, firstAlert, lastAlert, lastEnd, lastRecovery time.Time
	for s := 0.0; s <= 400; s += 10 {
		at := secs(s)
		var in []telegraf.Metric
		for i := range n {
			crosses := float64(i) * 0.2 // over the first 60 s
			ends := 200 + float64(i)*0.2
			if s < ends {
				in = append(in, procMetric("h1", 10000+i, secs(crosses-3600), at))
				if s > crosses && firstOver.IsZero() {
					firstOver = at
				}
			} else {
				lastEnd = secs(ends)
			}
		}
		in = append(in, scanMetric("h1", at, true, int64(len(in))))
		for _, e := range events(p.Apply(in...)) {
			msg := messageOf(t, e)
			require.LessOrEqual(t, utf8.RuneCountInString(msg), maxMessageRunes)
			kind, _ := e.GetTag("event")
			sent = append(sent, kind+" "+strings.SplitN(msg, "\n", 2)[0])
			var ids []string
			if list, ok := e.GetField("alert_ids"); ok {
				ids = strings.Fields(list.(string))
			} else if id, ok := e.GetField("alert_id"); ok {
				ids = []string{id.(string)}
			}
			require.Len(t, ids, int(e.Fields()["count"].(int64)))
			for _, id := range ids {
				switch kind {
				case "alert":
					alerts[id]++
					if firstAlert.IsZero() {
						firstAlert = at
					}
					lastAlert = at
				case "recovery":
					recoveries[id]++
					lastRecovery = at
				default:
					t.Fatalf("unexpected %s", kind)
				}
			}
		}
	}
	t.Logf("%d events: %q", len(sent), sent)
	require.LessOrEqual(t, len(sent), 6, "a handful of events")
	require.Len(t, alerts, n)
	require.Len(t, recoveries, n)
	for id, c := range alerts {
		require.Equal(t, 1, c, "alerts of %s", id)
		require.Equal(t, 1, recoveries[id], "recoveries of %s", id)
	}
	require.Equal(t, firstOver, firstAlert, "the first alerts go out at once")
	require.LessOrEqual(t, lastAlert.Sub(secs(60)), 2*time.Minute, "the last alert within two minutes of the last crossing")
	require.LessOrEqual(t, lastRecovery.Sub(lastEnd), 2*time.Minute, "the last recovery within two minutes of the last end")
}
