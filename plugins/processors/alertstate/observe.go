package alertstate

import (
	"math"
	"strconv"

	"github.com/influxdata/telegraf"

	"github.com/procblocking/procblocking/plugins/processors/alertstate/internal/machine"
)

// observe reads one process metric into the machine. It runs for every
// matching process on every scan: it reads the fields once and copies no
// tags unless the source is new.
func (a *AlertState) observe(m telegraf.Metric) []machine.Event {
	var o machine.Observation
	p := &o.Proc
	var haveAge, haveJobPID, haveJobCreated bool
	var jobPID, jobCreated int64
	for _, f := range m.FieldList() {
		switch f.Key {
		case "age_seconds":
			p.Age, haveAge = toFloat(f.Value)
		case "created_at":
			p.CreatedAt, _ = toInt(f.Value)
		case "job_pid":
			jobPID, haveJobPID = toInt(f.Value)
		case "job_created_at":
			jobCreated, haveJobCreated = toInt(f.Value)
		case "cpu_seconds":
			p.CPUSeconds, _ = toFloat(f.Value)
		case "cpu_usage":
			p.CPUUsage, p.HasCPUUsage = toFloat(f.Value)
		case "ppid":
			p.PPID, _ = toInt(f.Value)
		case "orphan":
			p.Orphan, p.OrphanKnown = f.Value.(bool)
		case "cmdline":
			p.Cmdline, _ = f.Value.(string)
		case "container_id":
			p.ContainerID, _ = f.Value.(string)
		case "comm":
			p.Comm, _ = f.Value.(string)
		}
	}
	if !haveAge {
		return nil
	}
	if !finite(p.CPUSeconds) {
		p.CPUSeconds = 0
	}
	if !finite(p.CPUUsage) {
		p.CPUUsage, p.HasCPUUsage = 0, false
	}
	tags := m.TagList()
	havePID := false
	for _, t := range tags {
		switch t.Key {
		case machine.TagPID:
			pid, err := strconv.ParseInt(t.Value, 10, 64)
			p.PID, havePID = pid, err == nil
		case machine.TagPattern:
			p.Pattern = t.Value
		}
	}
	switch {
	case haveJobPID && haveJobCreated:
		o.Job = machine.JobID{PID: jobPID, CreatedAt: jobCreated}
	case havePID:
		// An input without job fields: every process is a job of its own.
		o.Job = machine.JobID{PID: p.PID, CreatedAt: p.CreatedAt}
	default:
		return nil
	}
	if !havePID {
		p.PID = o.Job.PID
	}
	o.Top = o.Job == machine.JobID{PID: p.PID, CreatedAt: p.CreatedAt}
	o.JobAge = p.Age
	if !o.Top && p.CreatedAt != 0 && o.Job.CreatedAt != 0 {
		// The top started this much before the process.
		o.JobAge += float64(p.CreatedAt-o.Job.CreatedAt) / 1e9
	}
	o.Source = machine.SourceID(tags, telegrafTag)
	o.Time = m.Time().UnixNano()
	if !a.machine.KnowsSource(o.Source) {
		o.SourceTags = copyTags(tags)
	}
	return a.machine.Observe(o)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func telegrafTag(t *telegraf.Tag) (string, string) { return t.Key, t.Value }

// closeScan closes the scan a scan metric reports; only ok=true proves
// processes gone. A metric of that name without a boolean 'ok' field is not
// a scan of the input (an aggregator's minimum and maximum of one, say): it
// closes nothing and passes through.
func (a *AlertState) closeScan(m telegraf.Metric) []machine.Event {
	field, _ := m.GetField("ok")
	ok, isScan := field.(bool)
	if !isScan {
		return nil
	}
	tags := m.TagList()
	r := machine.ScanResult{Source: machine.SourceID(tags, telegrafTag), Tags: copyTags(tags), Time: m.Time().UnixNano(), OK: ok}
	if e, found := m.GetField("error"); found {
		r.Error, _ = e.(string)
	}
	r.Processes = reportedProcesses(m)
	return a.machine.CloseScan(r)
}

// reportedProcesses is how many process metrics the scan emitted (its
// matched processes and their descendants), or -1 when it does not say.
func reportedProcesses(m telegraf.Metric) int64 {
	matched, ok1 := m.GetField("matched")
	descendants, ok2 := m.GetField("descendants")
	n1, ok3 := matched.(int64)
	n2, ok4 := descendants.(int64)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return -1
	}
	return n1 + n2
}

func copyTags(tags []*telegraf.Tag) []machine.Tag {
	out := make([]machine.Tag, len(tags))
	for i, t := range tags {
		out[i] = machine.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

func toFloat(v interface{}) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

func toInt(v interface{}) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case uint64:
		return int64(x), true // unix ns and PIDs fit
	case float64:
		return int64(x), true
	}
	return 0, false
}
