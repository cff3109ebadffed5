package alertstate

import (
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"

	"github.com/procblocking/procblocking/plugins/processors/alertstate/internal/machine"
)

// eventKeys are the field keys of the events, and the event tag. A source
// tag with one of these names is left off the events, so that no key of the
// measurement is both a tag and a field.
var eventKeys = map[string]bool{
	"event": true, "message": true, "count": true, "alert_id": true, "alert_ids": true, "job_processes": true,
	"age_seconds": true, "cpu_seconds": true, "cpu_usage": true, "orphan": true, "ppid": true, "cmdline": true,
	"container_id": true, "alerts_sent": true, "first_alert_at": true, "error": true, "silent_seconds": true,
}

func (a *AlertState) appendEvents(out []telegraf.Metric, evs []machine.Event) []telegraf.Metric {
	for i := range evs {
		ev := &evs[i]
		switch len(ev.Jobs) {
		case 0:
			out = append(out, a.scanEvent(ev))
		case 1:
			out = append(out, a.jobEvent(ev))
		default:
			out = a.appendDigest(out, ev)
		}
	}
	return out
}

func (*AlertState) eventTags(ev *machine.Event) map[string]string {
	tags := make(map[string]string, len(ev.SourceTags)+3)
	for _, t := range ev.SourceTags {
		if !eventKeys[t.Key] {
			tags[t.Key] = t.Value
		}
	}
	tags["event"] = string(ev.Kind)
	return tags
}

func (a *AlertState) scanEvent(ev *machine.Event) telegraf.Metric {
	msg := a.message(a.messages.scan(ev))
	fields := map[string]interface{}{"message": msg, "count": int64(ev.Failures)}
	if ev.Kind == machine.KindScanFailed {
		fields["error"] = ev.Error
	}
	if ev.Kind == machine.KindSilent || ev.Kind == machine.KindHeardAgain {
		fields["silent_seconds"] = ev.Silent.Seconds()
	}
	return metric.New(a.AlertMeasurement, a.eventTags(ev), fields, time.Unix(0, ev.Time))
}

func (a *AlertState) jobEvent(ev *machine.Event) telegraf.Metric {
	j := &ev.Jobs[0]
	tags := a.eventTags(ev)
	tags[machine.TagPID] = strconv.FormatInt(j.Head.PID, 10)
	if j.Head.Pattern != "" {
		tags[machine.TagPattern] = j.Head.Pattern
	}
	fields := map[string]interface{}{
		"message":        a.message(a.messages.job(ev)),
		"count":          int64(1),
		"alert_id":       machine.AlertID(jobSource(ev, j), j.Job),
		"job_processes":  int64(1 + len(j.Others)),
		"age_seconds":    j.Head.Age,
		"cpu_seconds":    j.Head.CPUSeconds,
		"ppid":           j.Head.PPID,
		"cmdline":        j.Head.Cmdline,
		"alerts_sent":    j.AlertsSent,
		"first_alert_at": j.FirstAlertAt,
	}
	if j.Head.HasCPUUsage {
		fields["cpu_usage"] = j.Head.CPUUsage
	}
	if j.Head.OrphanKnown {
		fields["orphan"] = j.Head.Orphan
	}
	if j.Head.ContainerID != "" {
		fields["container_id"] = j.Head.ContainerID
	}
	return metric.New(a.AlertMeasurement, tags, fields, time.Unix(0, ev.Time))
}

// appendDigest adds the events of a digest: one, or several when the jobs
// do not all fit in one message.
func (a *AlertState) appendDigest(out []telegraf.Metric, ev *machine.Event) []telegraf.Metric {
	parts, err := a.messages.digest(ev)
	a.logTemplateError(ev.Kind, err)
	for _, p := range parts {
		ids := make([]string, len(p.jobs))
		for i := range p.jobs {
			ids[i] = machine.AlertID(jobSource(ev, &p.jobs[i]), p.jobs[i].Job)
		}
		fields := map[string]interface{}{
			"message":   p.text,
			"count":     int64(len(p.jobs)),
			"alert_ids": strings.Join(ids, " "),
		}
		out = append(out, metric.New(a.AlertMeasurement, a.eventTags(ev), fields, time.Unix(0, ev.Time)))
	}
	return out
}

// message logs a template that failed (the default text was used).
func (a *AlertState) message(text string, kind machine.Kind, err error) string {
	a.logTemplateError(kind, err)
	return text
}

func (a *AlertState) logTemplateError(kind machine.Kind, err error) {
	if err != nil {
		a.Log.Warnf("Template for %q failed, sent the default message: %v", kind, err)
	}
}
