package alertstate

import (
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"
)

func TestFleetInitErrors(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*AlertState)
		want string
	}{
		{func(p *AlertState) { p.GroupBy = []string{"...", "host"} }, `invalid 'group_by' ["..." "host"]: "..." groups by every tag and stands alone`},
		{func(p *AlertState) { p.GroupBy = []string{""} }, `invalid 'group_by' [""]: a tag name must not be empty`},
		{func(p *AlertState) { p.GroupBy = []string{"pid"} }, `invalid 'group_by' ["pid"]: "pid" tells processes apart, not sources`},
		{func(p *AlertState) { p.SilentAfter = config.Duration(-time.Second) }, `invalid 'silent_after' "-1s": must not be negative (0s turns it off)`},
	} {
		p := factory()
		p.StateFile = ""
		tc.mod(p)
		require.EqualError(t, p.Init(), tc.want)
	}
}

// fleetPlugin is the processor as the fleet's alerter.conf sets it: the
// whole fleet one group, a digest from two jobs on, silence measured on the
// given clock.
func fleetPlugin(t *testing.T, now *time.Time) *AlertState {
	return plugin(t, func(p *AlertState) {
		p.GroupBy = []string{}
		p.DigestAfter = 1
		p.now = func() time.Time { return *now }
	})
}

// A stuck job on each of three nodes: one alert at once, then one digest
// naming the other two nodes with each job's own alert ID.
func TestFleetIncidentIsTwoMessages(t *testing.T) {
	now := secs(0)
	p := fleetPlugin(t, &now)
	created := secs(-7200)
	scan := func(host string, s float64, pid int) []telegraf.Metric {
		now = secs(s)
		return events(p.Apply(proc{host: host, pid: pid, created: created}.at(secs(s)), scanMetric(host, secs(s), true, 1)))
	}
	evs := scan("runner-1", 0, 200)
	require.Len(t, evs, 1)
	require.Equal(t, "🚨 Blocking process on runner-1", headline(t, evs[0]))
	require.Empty(t, scan("runner-2", 1, 200))
	require.Empty(t, scan("runner-3", 2, 300))
	require.Empty(t, scan("runner-2", 31, 200))
	evs = scan("runner-1", 60, 200)
	require.Len(t, evs, 1)
	msg := messageOf(t, evs[0])
	require.Equal(t, "🚨 2 blocking processes on runner-2, runner-3\n"+
		"runner-2: PID 200 (orphaned), 2h 00m: python3 -m pytest tests/\n"+
		"runner-3: PID 300 (orphaned), 2h 00m: python3 -m pytest tests/", msg)
	ids, _ := evs[0].GetField("alert_ids")
	require.Equal(t, alertID("runner-2", 200, created)+" "+alertID("runner-3", 300, created), ids)
	require.Equal(t, map[string]string{"event": "alert"}, evs[0].Tags(), "the group's tags: none for the whole fleet")
}

// A node whose metrics stop is reported by name once silent_after has
// passed on the alerter's clock, and once when it is heard again.
func TestFleetSilentNode(t *testing.T) {
	for _, lang := range []string{"en", "ru"} {
		now := secs(0)
		p := plugin(t, func(p *AlertState) {
			p.Language = lang
			p.now = func() time.Time { return now }
		})
		var got []string
		for s := 0.0; s <= 200; s += 10 {
			now = secs(s)
			ms := []telegraf.Metric{scanMetric("node-1", secs(s), true, 0)}
			if s == 0 || s == 200 {
				ms = append(ms, scanMetric("node-7", secs(s), true, 0))
			}
			for _, e := range events(p.Apply(ms...)) {
				got = append(got, messageOf(t, e))
				event, _ := e.GetTag("event")
				host, _ := e.GetTag("host")
				silent, _ := e.GetField("silent_seconds")
				got = append(got, event+" "+host+" "+time.Duration(silent.(float64)*float64(time.Second)).String())
			}
		}
		want := map[string][]string{
			"en": {
				"🔇 Watchdog on node-7 silent for 2m 10s\nBlocking processes there cannot be detected until it is heard again; its alerts stand.",
				"source_silent node-7 2m10s",
				"📡 Watchdog on node-7 heard again after 3m 20s",
				"source_back node-7 3m20s",
			},
			"ru": {
				"🔇 Сторож на node-7 молчит уже 2 мин 10 с\nБлокирующие процессы там не обнаруживаются, пока он снова не выйдет на связь; его оповещения в силе.",
				"source_silent node-7 2m10s",
				"📡 Сторож на node-7 снова на связи, молчал 3 мин 20 с",
				"source_back node-7 3m20s",
			},
		}
		require.Equal(t, want[lang], got)
	}
}

func TestFleetPlural(t *testing.T) {
	for n, want := range map[int]string{1: "узле", 2: "узлах", 5: "узлах", 11: "узлах", 12: "узлах", 21: "узле", 22: "узлах", 111: "узлах", 101: "узле"} {
		require.Equal(t, want, plural(n, "узле", "узлах", "узлах"), "%d", n)
	}
	require.Equal(t, "few", plural(23, "one", "few", "many"))
	require.Equal(t, "many", plural(13, "one", "few", "many"))
}

func headline(t *testing.T, m telegraf.Metric) string {
	h, _, _ := strings.Cut(messageOf(t, m), "\n")
	return h
}
