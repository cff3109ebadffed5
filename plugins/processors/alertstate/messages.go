package alertstate

import (
	_ "embed"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/procblocking/procblocking/internal/textutil"
	"github.com/procblocking/procblocking/plugins/processors/alertstate/internal/machine"
)

// The default messages are templates like the ones a user may give, so that
// both render the same way.
var (
	//go:embed templates/en.tmpl
	templatesEN string
	//go:embed templates/ru.tmpl
	templatesRU string
)

// languages maps each language to its default templates.
var languages = map[string]string{"en": templatesEN, "ru": templatesRU}

// maxMessageRunes bounds the message field; Telegram allows 4096 characters
// and the output may add a little markup around it.
const maxMessageRunes = 4000

// headlineEmoji starts the first line of each kind's message; outputs and
// readers tell the kinds apart by it.
var headlineEmoji = map[machine.Kind]string{
	machine.KindAlert:         "🚨",
	machine.KindRealert:       "🔁",
	machine.KindRecovery:      "✅",
	machine.KindScanFailed:    "⚠️",
	machine.KindScanRecovered: "🟢",
	machine.KindSilent:        "🔇",
	machine.KindHeardAgain:    "📡",
}

// messageData is what a message template sees (documented in the README).
type messageData struct {
	Event  string
	Host   string
	Tags   map[string]string // the source's tags (host, ...)
	Time   time.Time
	Digest bool
	// Count is the number of jobs in the event (failed scans for scan
	// events); a digest too long for one message is split, and each part
	// has jobs From to To (counted from 1) of Total.
	Count, Total, From, To int
	Job                    *jobView // the event's job, or a digest's first
	Jobs                   []jobView
	Error                  string
	Failures               int
	// Hosts are the hosts of the jobs of an event of several sources (a
	// fleet's group), in order, each once; empty when Host names the one.
	Hosts []string
	// SilentSeconds: source_silent and source_back, how long it was not
	// heard from.
	SilentSeconds float64
}

// jobView is one job in messageData: its head process (the job's top) and
// its other processes. Strings are valid UTF-8 with control, bidi and
// zero-width characters replaced by spaces (see textutil.PlainLine).
type jobView struct {
	AlertID          string
	Host             string // the host tag of the job's source
	PID              int64
	PPID             int64
	Pattern          string
	Cmdline          string
	Comm             string
	ContainerID      string
	ShortContainerID string
	AgeSeconds       float64
	LivedSeconds     float64
	CPUSeconds       float64
	CPUUsage         float64
	HasCPUUsage      bool
	// The job's processes together.
	JobCPUSeconds  float64
	JobCPUUsage    float64
	JobHasCPUUsage bool
	Orphan         bool
	OrphanKnown    bool
	Vanished       bool
	AlertsSent     int64
	FirstAlertAt   time.Time
	Processes      int // in the job, this one included
	Others         []processView
}

// processView is one of a job's other processes.
type processView struct {
	PID        int64
	Pattern    string
	Cmdline    string
	AgeSeconds float64
}

type messages struct {
	defaults *template.Template
	tmpl     *template.Template // the defaults with the user's templates
	lang     string
}

func newMessages(lang string, overrides map[string]string) (*messages, error) {
	defaults, err := template.New(lang).Funcs(templateFuncs(lang)).Option("missingkey=error").Parse(languages[lang])
	if err != nil {
		return nil, fmt.Errorf("default templates of %q: %w", lang, err)
	}
	ms := &messages{defaults: defaults, tmpl: defaults, lang: lang}
	if len(overrides) == 0 {
		return ms, nil
	}
	t, err := defaults.Clone()
	if err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(overrides)) {
		if _, ok := headlineEmoji[machine.Kind(name)]; !ok {
			return nil, fmt.Errorf("invalid 'templates' key %q: want one of alert, realert, recovery, scan_failed, scan_recovered, source_silent, source_back", name)
		}
		if _, err := t.New(name).Parse(overrides[name]); err != nil {
			return nil, fmt.Errorf("invalid 'templates.%s' %q: %w", name, textutil.Truncate(overrides[name], 60), err)
		}
	}
	ms.tmpl = t
	// A field that does not exist only fails on execution: try each shape
	// of data the template can get.
	for _, name := range slices.Sorted(maps.Keys(overrides)) {
		for _, ev := range sampleEvents(machine.Kind(name)) {
			if _, err := ms.execute(ms.tmpl, ev.Kind, ms.data(&ev, views(&ev), 0)); err != nil {
				return nil, fmt.Errorf("invalid 'templates.%s' %q: %w", name, textutil.Truncate(overrides[name], 60), err)
			}
		}
	}
	return ms, nil
}

// job renders the message of a single-job event.
func (ms *messages) job(ev *machine.Event) (string, machine.Kind, error) {
	text, err := ms.render(ev.Kind, ms.data(ev, views(ev), 0))
	return textutil.Truncate(text, maxMessageRunes), ev.Kind, err
}

// scan renders the message of a scan event.
func (ms *messages) scan(ev *machine.Event) (string, machine.Kind, error) {
	text, err := ms.render(ev.Kind, ms.data(ev, nil, 0))
	return textutil.Truncate(text, maxMessageRunes), ev.Kind, err
}

// digestPart is one event of a digest: its message and its jobs.
type digestPart struct {
	text string
	jobs []machine.Snapshot
}

// digest renders a digest in as few messages as hold every job: all in one
// when it fits in maxMessageRunes, otherwise the longest runs of jobs that
// fit, in order.
func (ms *messages) digest(ev *machine.Event) ([]digestPart, error) {
	var parts []digestPart
	var firstErr error
	all := views(ev)
	render := func(from, n int) (string, bool) {
		text, err := ms.render(ev.Kind, ms.data(ev, all[from:from+n], from))
		if firstErr == nil {
			firstErr = err
		}
		return text, utf8.RuneCountInString(text) <= maxMessageRunes
	}
	for from := 0; from < len(ev.Jobs); {
		// The largest number of jobs whose message fits (one at least):
		// doubling from a few, then halving the gap, so that a digest of
		// thousands of jobs is never rendered whole.
		rest := len(ev.Jobs) - from
		fit, fitText, over := 0, "", rest+1
		for k := min(rest, 32); fit < rest && k < over; {
			if text, ok := render(from, k); ok {
				fit, fitText = k, text
				k = min(rest, 2*k)
			} else {
				over = k
			}
		}
		for lo, hi := fit+1, over-1; lo <= hi; {
			mid := (lo + hi) / 2
			if text, ok := render(from, mid); ok {
				fit, fitText, lo = mid, text, mid+1
			} else {
				hi = mid - 1
			}
		}
		if fit == 0 {
			fit = 1
			fitText, _ = render(from, 1)
		}
		parts = append(parts, digestPart{text: textutil.Truncate(fitText, maxMessageRunes), jobs: ev.Jobs[from : from+fit]})
		from += fit
	}
	return parts, firstErr
}

// render executes the kind's template, falling back to the default one when
// a user's template fails, and makes the text a message: valid UTF-8,
// without trailing blanks, starting with the kind's emoji.
func (ms *messages) render(kind machine.Kind, d *messageData) (string, error) {
	text, err := ms.execute(ms.tmpl, kind, d)
	if err != nil && ms.tmpl != ms.defaults {
		var derr error
		if text, derr = ms.execute(ms.defaults, kind, d); derr != nil {
			text = ""
		}
	}
	text = strings.TrimRightFunc(strings.ToValidUTF8(text, "\uFFFD"), unicode.IsSpace)
	if emoji := headlineEmoji[kind]; !strings.HasPrefix(text, emoji) {
		text = emoji + " " + text
	}
	return text, err
}

func (*messages) execute(t *template.Template, kind machine.Kind, d *messageData) (string, error) {
	var b strings.Builder
	err := t.ExecuteTemplate(&b, string(kind), d)
	return b.String(), err
}

// data is what the templates see of an event whose jobs from+1 to
// from+len(jobs) are jobs.
func (*messages) data(ev *machine.Event, jobs []jobView, from int) *messageData {
	d := &messageData{
		Event:    string(ev.Kind),
		Tags:     make(map[string]string, len(ev.SourceTags)),
		Time:     time.Unix(0, ev.Time).UTC(),
		Digest:   ev.Digest(),
		Count:    len(jobs),
		Total:    len(ev.Jobs),
		From:     from + 1,
		To:       from + len(jobs),
		Jobs:     jobs,
		Error:    clean(ev.Error),
		Failures: ev.Failures,
	}
	if len(ev.Jobs) == 0 {
		d.Count, d.Total, d.From, d.To = ev.Failures, ev.Failures, 1, ev.Failures
	}
	for _, t := range ev.SourceTags {
		d.Tags[clean(t.Key)] = clean(t.Value)
	}
	d.Host = d.Tags["host"]
	d.SilentSeconds = ev.Silent.Seconds()
	if d.Host == "" {
		d.Hosts = hostsOf(jobs)
	}
	if len(jobs) > 0 {
		d.Job = &jobs[0]
	}
	return d
}

// views turns the jobs of an event into what templates see of them.
func views(ev *machine.Event) []jobView {
	out := make([]jobView, len(ev.Jobs))
	for i := range ev.Jobs {
		out[i] = view(jobSource(ev, &ev.Jobs[i]), &ev.Jobs[i])
		out[i].Host = clean(jobHost(ev, &ev.Jobs[i]))
	}
	return out
}

func view(source uint64, s *machine.Snapshot) jobView {
	h := &s.Head
	v := jobView{
		AlertID:          machine.AlertID(source, s.Job),
		PID:              h.PID,
		PPID:             h.PPID,
		Pattern:          clean(h.Pattern),
		Cmdline:          clean(h.Cmdline),
		Comm:             clean(h.Comm),
		ContainerID:      clean(h.ContainerID),
		ShortContainerID: shortID(clean(h.ContainerID)),
		AgeSeconds:       h.Age,
		CPUSeconds:       h.CPUSeconds,
		CPUUsage:         h.CPUUsage,
		HasCPUUsage:      h.HasCPUUsage,
		Orphan:           h.Orphan && h.OrphanKnown,
		OrphanKnown:      h.OrphanKnown,
		Vanished:         s.Vanished,
		AlertsSent:       s.AlertsSent,
		FirstAlertAt:     time.Unix(0, s.FirstAlertAt).UTC(),
		Processes:        1 + len(s.Others),
	}
	if h.CreatedAt > 0 && s.LastSeenAt > h.CreatedAt {
		v.LivedSeconds = float64(s.LastSeenAt-h.CreatedAt) / 1e9
	}
	if v.LivedSeconds <= 0 {
		v.LivedSeconds = h.Age
	}
	v.JobCPUSeconds, v.JobCPUUsage, v.JobHasCPUUsage = h.CPUSeconds, h.CPUUsage, h.HasCPUUsage
	for _, o := range s.Others {
		v.Others = append(v.Others, processView{PID: o.PID, Pattern: clean(o.Pattern), Cmdline: clean(o.Cmdline), AgeSeconds: o.Age})
		v.JobCPUSeconds += o.CPUSeconds
		if o.HasCPUUsage {
			v.JobCPUUsage += o.CPUUsage
			v.JobHasCPUUsage = true
		}
	}
	return v
}

// shortID is a container ID as `docker ps` shows it: its first 12 characters.
func shortID(id string) string {
	n := 0
	for i := range id {
		if n == 12 {
			return id[:i]
		}
		n++
	}
	return id
}

// units of humanDuration per language: days, hours, minutes, seconds, and
// whether a space separates a number from its unit.
var units = map[string][5]string{
	"en": {"d", "h", "m", "s", ""},
	"ru": {"д", "ч", "мин", "с", " "},
}

func templateFuncs(lang string) template.FuncMap {
	u := units[lang]
	return template.FuncMap{
		"duration": func(seconds float64) string { return humanDuration(seconds, u) },
		"age": func(seconds float64) string {
			s := humanDuration(seconds, u)
			if total := wholeSeconds(seconds); total >= 60 {
				s += " (" + strconv.FormatInt(total, 10) + " " + u[3] + ")"
			}
			return s
		},
		"decimal": func(f float64) string {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				f = 0
			}
			s := strconv.FormatFloat(f, 'f', 1, 64)
			if lang == "ru" {
				s = strings.Replace(s, ".", ",", 1)
			}
			return s
		},
		"truncate": func(n int, s string) string { return textutil.Truncate(s, n) },
		"pids":     pids,
		"join":     strings.Join,
		"plural":   plural,
	}
}

// pids lists the PIDs of jobs or processes: "12, 13, 14".
func pids(list interface{}) (string, error) {
	var b strings.Builder
	add := func(pid int64) {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(pid, 10))
	}
	switch l := list.(type) {
	case []jobView:
		for i := range l {
			add(l[i].PID)
		}
	case []processView:
		for i := range l {
			add(l[i].PID)
		}
	default:
		return "", fmt.Errorf("pids of %T: want .Jobs or .Others", list)
	}
	return b.String(), nil
}

func wholeSeconds(seconds float64) int64 {
	if !(seconds > 0) || seconds > 1e15 {
		return 0
	}
	return int64(math.Round(seconds))
}

// humanDuration renders seconds as "2h 03m", "5m 07s", "3d 04h 05m", or
// "45 s" under a minute (in Russian "2 ч 03 мин", "45 с").
func humanDuration(seconds float64, u [5]string) string {
	total := wholeSeconds(seconds)
	d, h, m, s := total/86400, total/3600%24, total/60%60, total%60
	sp := u[4]
	switch {
	case d > 0:
		return fmt.Sprintf("%d%s%s %02d%s%s %02d%s%s", d, sp, u[0], h, sp, u[1], m, sp, u[2])
	case h > 0:
		return fmt.Sprintf("%d%s%s %02d%s%s", h, sp, u[1], m, sp, u[2])
	case m > 0:
		return fmt.Sprintf("%d%s%s %02d%s%s", m, sp, u[2], s, sp, u[3])
	}
	return strconv.FormatInt(s, 10) + " " + u[3]
}

// clean makes a value from /proc safe to put in a plain-text line: nothing
// in it can fake a line of the message or reorder its text.
func clean(s string) string { return textutil.PlainLine(s) }

// sampleEvents are the shapes of data a template of the kind can get; Init
// tries a user's template on each.
func sampleEvents(kind machine.Kind) []machine.Event {
	now := time.Unix(1_700_000_000, 0).UnixNano()
	src := []machine.Tag{{Key: "host", Value: "h"}}
	switch kind {
	case machine.KindScanFailed, machine.KindScanRecovered, machine.KindSilent, machine.KindHeardAgain:
		return []machine.Event{{Kind: kind, Time: now, SourceTags: src, Failures: 3, Error: "e", Silent: 2 * time.Minute}}
	}
	job := func(pid int64, others int, orphanKnown, vanished bool) machine.Snapshot {
		created := now - int64(2*time.Hour)
		s := machine.Snapshot{
			Job: machine.JobID{PID: pid, CreatedAt: created},
			Head: machine.Proc{PID: pid, PPID: 1, CreatedAt: created, Age: 7200, CPUSeconds: 1, Orphan: true, OrphanKnown: orphanKnown,
				Pattern: "pytest", Cmdline: "pytest", ContainerID: "c"},
			AlertsSent: 1, FirstAlertAt: now, LastSeenAt: now, Vanished: vanished,
		}
		for i := range others {
			s.Others = append(s.Others, machine.Proc{PID: pid + 1 + int64(i), CreatedAt: created, Age: 7000, Pattern: "pytest", Cmdline: "pytest"})
		}
		return s
	}
	many := make([]machine.Snapshot, 12)
	for i := range many {
		many[i] = job(int64(100+i*20), i, true, false)
	}
	return []machine.Event{
		{Kind: kind, Time: now, SourceTags: src, Jobs: []machine.Snapshot{job(42, 0, true, true)}},
		{Kind: kind, Time: now, SourceTags: src, Jobs: []machine.Snapshot{job(42, 12, false, false)}},
		{Kind: kind, Time: now, SourceTags: nil, Jobs: many},
	}
}
