package alertstate

import (
	"strconv"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"

	"github.com/procblocking/procblocking/internal/chatactions"
	"github.com/procblocking/procblocking/plugins/processors/alertstate/internal/machine"
)

// The event kinds of actions from the chat, beside the machine's: the
// output edits the alert of an ack or a snooze, and sends a status.
const (
	kindAck    = chatactions.Ack
	kindSnooze = chatactions.Snooze
	kindStatus = chatactions.Status
)

// act applies one procblocking_action metric (inputs.telegram_actions) and
// returns the events it calls for: the note for the job's alert, or the
// status. Actions of users not allowed change nothing.
func (a *AlertState) act(m telegraf.Metric) []telegraf.Metric {
	if allowed, _ := m.GetField("allowed"); allowed != true {
		return nil
	}
	action, _ := m.GetTag("action")
	who := a.messages.who(m)
	at := m.Time()
	switch action {
	case chatactions.Status:
		return a.status(m, who)
	case chatactions.Ack, chatactions.Snooze:
	default:
		return nil
	}
	alertID, _ := m.GetField("alert_id")
	id, _ := alertID.(string)
	mute := machine.Mute{Acked: action == chatactions.Ack, By: who, At: at.UnixNano()}
	if !mute.Acked {
		until, _ := m.GetField("until")
		secs, ok := toInt(until)
		if !ok || secs <= at.Unix() {
			a.Log.Warnf("Snooze by %s of alert %q without a time to snooze until in the future: ignored", who, id)
			return nil
		}
		mute.Until = time.Unix(secs, 0).UnixNano()
	}
	ev, found := a.machine.Act(machine.Action{AlertID: id, Mute: mute})
	if !found {
		a.Log.Infof("Chat action %s by %s on alert %q: no such job held (it recovered, or was alerted by another agent)", action, who, id)
		return nil
	}
	if a.machine.Dirty() {
		a.save()
	}
	j := &ev.Jobs[0]
	tags := a.eventTags(ev)
	tags["event"] = action
	tags[machine.TagPID] = strconv.FormatInt(j.Head.PID, 10)
	fields := map[string]interface{}{
		"message":  a.messages.note(j.Mute, at),
		"count":    int64(1),
		"alert_id": id,
	}
	a.Log.Infof("Chat action %s by %s: alert %q (PID %d)", action, who, id, j.Head.PID)
	return []telegraf.Metric{metric.New(a.AlertMeasurement, tags, fields, at)}
}

// status answers /status: the jobs held now, per source, in as many
// messages as they need.
func (a *AlertState) status(m telegraf.Metric, who string) []telegraf.Metric {
	at := m.Time()
	parts, total := a.messages.status(a.machine.Status(), at)
	out := make([]telegraf.Metric, 0, len(parts))
	for _, p := range parts {
		fields := map[string]interface{}{"message": p, "count": int64(total)}
		if id, ok := m.GetField("message_id"); ok {
			fields["request_message_id"] = id
		}
		out = append(out, metric.New(a.AlertMeasurement, map[string]string{"event": kindStatus}, fields, at))
	}
	a.Log.Debugf("Answered /status of %s: %d job(s) in %d message(s)", who, total, len(parts))
	return out
}
