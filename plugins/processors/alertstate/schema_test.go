package alertstate

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	serializer "github.com/influxdata/telegraf/plugins/serializers/influx"
	"github.com/stretchr/testify/require"
)

// What the agent writes must be accepted by every InfluxDB: in the line
// protocol of a whole cycle (alert, realert, recovery, digest, scan_failed,
// scan_recovered), through the real plugin and Telegraf's influx
// serializer, no measurement has a key that is both a tag and a field, and
// no field changes type between points (InfluxDB 3 rejects both).
func TestLineProtocolSchema(t *testing.T) {
	p := plugin(t, nil)
	created := t0.Add(-2 * time.Hour)
	var stream []telegraf.Metric
	apply := func(ms ...telegraf.Metric) { stream = append(stream, p.Apply(ms...)...) }

	job := func(at time.Time) []telegraf.Metric {
		top := proc{host: "h1", pid: 7, created: created, cmdline: "timeout 600 pytest"}.at(at)
		if at == secs(0) {
			top.RemoveField("cpu_usage") // the first scan of a process has no usage yet
		}
		top.AddField("container_id", "4f1c2b9a8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b")
		child := proc{host: "h1", pid: 8, created: created.Add(time.Second), jobPID: 7, jobCreated: created, orphanUnknown: true}.at(at)
		return []telegraf.Metric{top, child, scanMetric("h1", at, true, 2)}
	}
	apply(job(secs(0))...)
	apply(job(secs(1000))...)
	apply(scanMetric("h1", secs(1100), true, 0))
	var many []telegraf.Metric
	for i := range 12 {
		many = append(many, proc{host: "h2", pid: 100 + i, created: created, orphanUnknown: i%2 == 0}.at(secs(1200)))
	}
	apply(append(many, scanMetric("h2", secs(1200), true, 12))...)
	for i := 1; i <= 3; i++ {
		apply(scanMetric("h3", secs(1300+float64(i)), false, 0))
	}
	apply(scanMetric("h3", secs(1400), true, 0))

	kinds := map[string]int{}
	for _, m := range stream {
		if ev, ok := m.GetTag("event"); ok {
			if _, digest := m.GetField("alert_ids"); digest {
				ev += " digest"
			}
			kinds[ev]++
		}
	}
	require.Equal(t, map[string]int{"alert": 1, "realert": 1, "recovery": 1, "alert digest": 1, "scan_failed": 1, "scan_recovered": 1}, kinds)

	s := &serializer.Serializer{SortFields: true}
	require.NoError(t, s.Init())
	lines, err := s.SerializeBatch(stream)
	require.NoError(t, err)
	parser := &influx.Parser{}
	require.NoError(t, parser.Init())
	parsed, err := parser.Parse(lines)
	require.NoError(t, err)
	require.Len(t, parsed, len(stream), "every metric survives the line protocol")

	tagKeys := map[string]map[string]bool{}
	fieldTypes := map[string]map[string]string{}
	for _, m := range parsed {
		name := m.Name()
		if tagKeys[name] == nil {
			tagKeys[name], fieldTypes[name] = map[string]bool{}, map[string]string{}
		}
		for _, tag := range m.TagList() {
			tagKeys[name][tag.Key] = true
		}
		for _, f := range m.FieldList() {
			typ := fmt.Sprintf("%T", f.Value)
			if prev, ok := fieldTypes[name][f.Key]; ok {
				require.Equal(t, prev, typ, "%s field %q changes type", name, f.Key)
			}
			fieldTypes[name][f.Key] = typ
		}
	}
	require.ElementsMatch(t, []string{"procblocking", "procblocking_scan", "procblocking_alert"}, keys(tagKeys))
	for name := range tagKeys {
		for key := range tagKeys[name] {
			_, both := fieldTypes[name][key]
			require.False(t, both, "%s has %q both as a tag and as a field", name, key)
		}
	}
	require.Equal(t, map[string]string{
		"message": "string", "count": "int64", "alert_id": "string", "alert_ids": "string", "job_processes": "int64",
		"age_seconds": "float64", "cpu_seconds": "float64", "cpu_usage": "float64", "orphan": "bool", "ppid": "int64",
		"cmdline": "string", "container_id": "string", "alerts_sent": "int64", "first_alert_at": "int64", "error": "string",
	}, fieldTypes["procblocking_alert"], "the fields of contract C2, and their types")
	require.ElementsMatch(t, []string{"event", "host", "pattern", "pid"}, keys(tagKeys["procblocking_alert"]))
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A source tag named like a field of the events (a global tag "count", say)
// is left off the events rather than making a key both.
func TestSourceTagNamedLikeAField(t *testing.T) {
	p := plugin(t, nil)
	m := procMetric("h1", 7, t0.Add(-2*time.Hour), t0)
	m.AddTag("count", "3")
	m.AddTag("env", "ci")
	scan := scanMetric("h1", t0, true, 1)
	scan.AddTag("count", "3")
	scan.AddTag("env", "ci")
	ev := events(p.Apply(m, scan))
	require.Len(t, ev, 1)
	require.Equal(t, map[string]string{"event": "alert", "host": "h1", "env": "ci", "pattern": "pytest", "pid": strconv.Itoa(7)}, ev[0].Tags())
}
