// Package chatactions is the contract between the three plugins that act on
// an alert from the chat: outputs.telegram puts buttons under an alert whose
// callback data is made here, inputs.telegram_actions reads a press back
// with Parse and emits it as a metric of Measurement, and
// processors.alertstate applies it to the job.
package chatactions

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Measurement is the name of the metrics of actions taken in the chat.
const Measurement = "procblocking_action"

// The actions; the "action" tag of a Measurement metric.
const (
	Ack    = "ack"
	Snooze = "snooze"
	Status = "status"
)

// SnoozeChoices are the snoozes offered under an alert.
var SnoozeChoices = []time.Duration{time.Hour, 4 * time.Hour, 24 * time.Hour}

// maxData is Telegram's limit on a button's callback data, in bytes.
const maxData = 64

// Press is what a button under an alert asks for.
type Press struct {
	Action  string        // Ack or Snooze
	AlertID string        // the job: alertstate's alert_id (its source and top process)
	For     time.Duration // Snooze only
}

// Data is the callback data of a button: "ack:<alert_id>" or
// "snooze:<seconds>:<alert_id>". The alert_id names the job by its source and
// its top process's PID and start time, so a reused PID is not mistaken for
// it.
func (p Press) Data() string {
	if p.Action == Snooze {
		return Snooze + ":" + strconv.FormatInt(int64(p.For/time.Second), 10) + ":" + p.AlertID
	}
	return Ack + ":" + p.AlertID
}

// Parse reads the callback data of a button.
func Parse(data string) (Press, error) {
	if len(data) > maxData {
		return Press{}, fmt.Errorf("callback data of %d bytes (at most %d)", len(data), maxData)
	}
	action, rest, _ := strings.Cut(data, ":")
	var p Press
	switch action {
	case Ack:
		p = Press{Action: Ack, AlertID: rest}
	case Snooze:
		secs, id, _ := strings.Cut(rest, ":")
		n, err := strconv.ParseInt(secs, 10, 64)
		// Canonical digits only ("60", not "060" or "+60"): one press, one
		// spelling.
		if err != nil || n <= 0 || n > 366*24*3600 || strconv.FormatInt(n, 10) != secs {
			return Press{}, fmt.Errorf("callback data %q: bad snooze duration", data)
		}
		p = Press{Action: Snooze, AlertID: id, For: time.Duration(n) * time.Second}
	default:
		return Press{}, fmt.Errorf("callback data %q: unknown action", data)
	}
	if !validAlertID(p.AlertID) {
		return Press{}, fmt.Errorf("callback data %q: bad alert id", data)
	}
	return p, nil
}

// validAlertID: alertstate's alert_id is 16 lowercase hex digits.
func validAlertID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
