package alertstate

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/influxdata/telegraf"

	"github.com/procblocking/procblocking/internal/textutil"
	"github.com/procblocking/procblocking/plugins/processors/alertstate/internal/machine"
)

// actionTexts are the words of the action notes and the status, per
// language.
type actionTexts struct {
	user            string // "user 123" when there is no @username
	acked, snoozed  string // the note under an alert
	ackedS, snoozeS string // a job's line in a status
	dateFormat      string // when the end is on another day
	statusNone      string
	statusHead      string
	part            string
	host            string
	cmdlineRunes    int
}

var actionLanguages = map[string]actionTexts{
	"en": {
		user: "user ", acked: "✔ Acknowledged by %s: no more reminders", snoozed: "🔕 Snoozed by %s until %s",
		ackedS: "✔ acknowledged by %s", snoozeS: "🔕 snoozed by %s until %s",
		dateFormat: "Jan 2 15:04", statusNone: "📋 No stuck jobs", statusHead: "📋 Stuck jobs: %d", part: " (part %d of %d)",
		host: "Host %s:", cmdlineRunes: 200,
	},
	"ru": {
		user: "пользователь ", acked: "✔ Принято: %s, повторов больше не будет", snoozed: "🔕 Отложено: %s, до %s",
		ackedS: "✔ принято: %s", snoozeS: "🔕 отложено: %s, до %s",
		dateFormat: "02.01 15:04", statusNone: "📋 Зависших задач нет", statusHead: "📋 Зависшие задачи: %d", part: " (часть %d из %d)",
		host: "Хост %s:", cmdlineRunes: 200,
	},
}

func (ms *messages) texts() actionTexts { return actionLanguages[ms.lang] }

// who names the user of an action: @username, or their id.
func (ms *messages) who(m telegraf.Metric) string {
	name, _ := m.GetField("username")
	if s, ok := name.(string); ok && s != "" {
		return "@" + clean(s)
	}
	id, _ := m.GetField("user_id")
	n, _ := toInt(id)
	return ms.texts().user + strconv.FormatInt(n, 10)
}

// when renders the end of a snooze in the agent's time zone: the time, and
// the date too when it is not the day of the action.
func (ms *messages) when(until, at time.Time) string {
	until, at = until.Local(), at.Local()
	y1, m1, d1 := until.Date()
	y2, m2, d2 := at.Date()
	if y1 == y2 && m1 == m2 && d1 == d2 {
		return until.Format("15:04")
	}
	return until.Format(ms.texts().dateFormat)
}

// note is the line the output adds to the alert of a job acknowledged or
// snoozed.
func (ms *messages) note(mute *machine.Mute, at time.Time) string {
	t := ms.texts()
	if mute.Acked {
		return fmt.Sprintf(t.acked, mute.By)
	}
	return fmt.Sprintf(t.snoozed, mute.By, ms.when(time.Unix(0, mute.Until), at))
}

// status renders the held jobs per source, split into messages of at most
// maxMessageRunes at job boundaries (like a digest), and returns them with
// the number of jobs.
func (ms *messages) status(sources []machine.SourceJobs, at time.Time) ([]string, int) {
	t := ms.texts()
	total := 0
	for _, s := range sources {
		total += len(s.Jobs)
	}
	if total == 0 {
		return []string{t.statusNone}, 0
	}
	u := units[ms.lang]
	type block struct{ host, text string }
	var blocks []block
	for _, s := range sources {
		host := hostOf(s.Tags)
		for i := range s.Jobs {
			j := &s.Jobs[i]
			age := j.Head.Age + float64(at.UnixNano()-j.LastSeenAt)/1e9
			if j.LastSeenAt == 0 || at.UnixNano() < j.LastSeenAt {
				age = j.Head.Age
			}
			text := "• PID " + strconv.FormatInt(j.Head.PID, 10) + ", " + humanDuration(age, u) + ": " +
				textutil.Truncate(clean(j.Head.Cmdline), t.cmdlineRunes)
			switch {
			case j.Mute == nil:
			case j.Mute.Acked:
				text += "\n  " + fmt.Sprintf(t.ackedS, j.Mute.By)
			case j.Mute.Until > at.UnixNano():
				text += "\n  " + fmt.Sprintf(t.snoozeS, j.Mute.By, ms.when(time.Unix(0, j.Mute.Until), at))
			}
			blocks = append(blocks, block{host, text})
		}
	}
	// Room for the headline with its part counter.
	budget := maxMessageRunes - 64
	var bodies []string
	var cur strings.Builder
	curHost, n := "", 0
	for _, bl := range blocks {
		add := bl.text
		if bl.host != curHost || cur.Len() == 0 {
			add = fmt.Sprintf(t.host, bl.host) + "\n" + add
		}
		if cur.Len() > 0 && n+1+utf8.RuneCountInString(add) > budget {
			bodies = append(bodies, cur.String())
			cur.Reset()
			n = 0
			add = fmt.Sprintf(t.host, bl.host) + "\n" + bl.text
		}
		if cur.Len() > 0 {
			cur.WriteString("\n")
			n++
		}
		cur.WriteString(add)
		n += utf8.RuneCountInString(add)
		curHost = bl.host
	}
	bodies = append(bodies, cur.String())
	out := make([]string, len(bodies))
	for i, body := range bodies {
		head := fmt.Sprintf(t.statusHead, total)
		if len(bodies) > 1 {
			head += fmt.Sprintf(t.part, i+1, len(bodies))
		}
		out[i] = textutil.Truncate(head+"\n"+body, maxMessageRunes)
	}
	return out, total
}

// hostOf names a source: its host tag, else all its tags.
func hostOf(tags []machine.Tag) string {
	for _, tag := range tags {
		if tag.Key == "host" {
			return clean(tag.Value)
		}
	}
	return clean(describeTags(tags))
}
