package alertstate

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxMessageRunes bounds the message field; Telegram allows 4096 characters
// and the output may add a little markup around it.
const maxMessageRunes = 4000

// digestList is how many processes a digest message lists by name.
const digestList = 10

// digestCmdlineRunes bounds each command line in a digest's list.
const digestCmdlineRunes = 120

// MessageData is what a message template sees (documented in the README).
type MessageData struct {
	Event    string
	Count    int
	Digest   bool
	Host     string
	Tags     map[string]string // the source's tags (host, ...)
	Error    string
	Failures int
	Time     time.Time
	// Process is the event's process, or the first of a digest.
	Process *ProcessView
	// Processes lists the first ten processes; More counts the rest.
	Processes []ProcessView
	More      int
}

// ProcessView is one process in MessageData. Strings are valid UTF-8 with
// control characters replaced by spaces.
type ProcessView struct {
	PID          int64
	PPID         int64
	Pattern      string
	Host         string
	Tags         map[string]string
	AgeSeconds   float64
	Age          string // human form: 2h 03m
	CPUSeconds   float64
	CPUUsage     float64
	HasCPUUsage  bool
	Orphan       bool
	Cmdline      string
	ContainerID  string
	Comm         string
	AlertsSent   int
	FirstAlertAt time.Time
	LivedSeconds float64
	Lived        string
	Vanished     bool
}

// templateNames are the keys accepted in the templates table.
var templateNames = []Kind{KindAlert, KindRealert, KindRecovery, KindScanFailed, KindScanRecovered}

var templateFuncs = template.FuncMap{
	"duration": func(seconds float64) string { return humanDuration(seconds, "en") },
	"truncate": func(n int, s string) string { return truncateRunes(s, n) },
	"join":     strings.Join,
}

type messages struct {
	lang      string
	overrides map[Kind]*template.Template
}

func newMessages(lang string, templates map[string]string) (*messages, error) {
	ms := &messages{lang: lang, overrides: make(map[Kind]*template.Template)}
	for name, text := range templates {
		kind := Kind(name)
		known := false
		for _, k := range templateNames {
			known = known || k == kind
		}
		if !known {
			return nil, fmt.Errorf("invalid 'templates' key %q: want one of alert, realert, recovery, scan_failed, scan_recovered", name)
		}
		t, err := template.New(name).Funcs(templateFuncs).Option("missingkey=error").Parse(text)
		if err != nil {
			return nil, fmt.Errorf("invalid 'templates.%s': %w", name, err)
		}
		// Fields that do not exist only fail on execution: try both shapes.
		for _, ev := range sampleEvents(kind) {
			if err := t.Execute(&strings.Builder{}, ms.data(&ev)); err != nil {
				return nil, fmt.Errorf("invalid 'templates.%s': %w", name, err)
			}
		}
		ms.overrides[kind] = t
	}
	return ms, nil
}

// render returns the message of an event: the override if any (falling back
// to the built-in text when it fails), cut to maxMessageRunes.
func (ms *messages) render(ev *Event) (string, error) {
	var text string
	var err error
	if t, ok := ms.overrides[ev.Kind]; ok {
		var b strings.Builder
		if err = t.Execute(&b, ms.data(ev)); err == nil {
			text = b.String()
		}
	}
	if text == "" {
		text = ms.builtin(ev)
	}
	return limitMessage(text), err
}

func (ms *messages) data(ev *Event) MessageData {
	d := MessageData{
		Event:    string(ev.Kind),
		Count:    ev.Count,
		Digest:   ev.Digest(),
		Tags:     make(map[string]string, len(ev.SourceTags)),
		Error:    clean(ev.Error),
		Failures: ev.Failures,
		Time:     ev.Time,
	}
	for _, t := range ev.SourceTags {
		d.Tags[clean(t.Key)] = clean(t.Value)
	}
	d.Host = d.Tags["host"]
	for i := range ev.Procs {
		if i == digestList {
			d.More = len(ev.Procs) - digestList
			break
		}
		d.Processes = append(d.Processes, ms.view(&ev.Procs[i]))
	}
	if len(d.Processes) > 0 {
		d.Process = &d.Processes[0]
		if d.Host == "" {
			d.Host = d.Process.Host
		}
	}
	return d
}

func (ms *messages) view(s *Snapshot) ProcessView {
	v := ProcessView{
		PID:          s.Info.PID,
		PPID:         s.Info.PPID,
		Tags:         make(map[string]string, len(s.Tags)),
		AgeSeconds:   s.AgeSeconds,
		Age:          humanDuration(s.AgeSeconds, ms.lang),
		CPUSeconds:   s.Info.CPUSeconds,
		CPUUsage:     s.Info.CPUUsage,
		HasCPUUsage:  s.Info.HasCPUUsage,
		Orphan:       s.Info.Orphan,
		Cmdline:      clean(s.Info.Cmdline),
		ContainerID:  clean(s.Info.ContainerID),
		Comm:         clean(s.Info.Comm),
		AlertsSent:   s.AlertsSent,
		FirstAlertAt: s.FirstAlertAt,
		Vanished:     s.Vanished,
	}
	for _, t := range s.Tags {
		v.Tags[clean(t.Key)] = clean(t.Value)
	}
	v.Pattern, v.Host = v.Tags[tagPattern], v.Tags["host"]
	if s.CreatedAt > 0 && !s.LastSeenAt.IsZero() {
		v.LivedSeconds = s.LastSeenAt.Sub(time.Unix(0, s.CreatedAt)).Seconds()
	}
	if v.LivedSeconds <= 0 {
		v.LivedSeconds = s.AgeSeconds
	}
	v.Lived = humanDuration(v.LivedSeconds, ms.lang)
	return v
}

// Built-in texts.
type phrases struct {
	title                                map[Kind]string // single-process headline
	digestTitle                          map[Kind]string
	onHost                               string
	running, cpu, cpuNow                 string
	orphanYes, orphanNo                  string
	container, command, action           string
	recoveredGone, recoveredBelow        string
	more                                 string
	scanFailed, scanRecovered, blindNote string
	patternWord, alertNumber             string
}

var phraseSets = map[string]*phrases{
	"en": {
		title: map[Kind]string{
			KindAlert:    "ALERT: blocking process",
			KindRealert:  "STILL BLOCKING: process",
			KindRecovery: "RECOVERY: blocking process",
		},
		digestTitle: map[Kind]string{
			KindAlert:    "ALERT: %d blocking processes",
			KindRealert:  "STILL BLOCKING: %d processes",
			KindRecovery: "RECOVERY: %d blocking processes are gone or back under the threshold",
		},
		onHost:         " on %s",
		running:        "PID %d (pattern %q) has been running for %s (%.0f s).",
		cpu:            "CPU time: %.1f s",
		cpuNow:         ", now %.1f%% of one core",
		orphanYes:      "Orphaned: yes, reparented to PID %d (whatever started it is gone).",
		orphanNo:       "Orphaned: no, parent PID %d.",
		container:      "Container: %s",
		command:        "Command: %s",
		action:         "Action: find out whether anything still needs it; if not, stop it (kill %d, as seen from the host).",
		recoveredGone:  "PID %d (pattern %q) is gone after running for %s (%.0f s); %d alert(s) were sent.",
		recoveredBelow: "PID %d (pattern %q) is back under the age threshold after %s (%.0f s); %d alert(s) were sent.",
		more:           "and %d more",
		scanFailed:     "WATCHDOG BLIND: %d consecutive process scans%s failed: %s",
		blindNote:      "Blocking processes cannot be detected until scans succeed again.",
		scanRecovered:  "WATCHDOG BACK: process scans%s succeed again after %d failed ones.",
		patternWord:    "pattern",
		alertNumber:    " (alert #%d)",
	},
	"ru": {
		title: map[Kind]string{
			KindAlert:    "ТРЕВОГА: блокирующий процесс",
			KindRealert:  "ВСЁ ЕЩЁ БЛОКИРУЕТ: процесс",
			KindRecovery: "ВОССТАНОВЛЕНИЕ: блокирующий процесс",
		},
		digestTitle: map[Kind]string{
			KindAlert:    "ТРЕВОГА: блокирующих процессов: %d",
			KindRealert:  "ВСЁ ЕЩЁ БЛОКИРУЮТ: процессов: %d",
			KindRecovery: "ВОССТАНОВЛЕНИЕ: блокирующих процессов завершилось или вернулось под порог: %d",
		},
		onHost:         " на %s",
		running:        "PID %d (шаблон %q) работает уже %s (%.0f с).",
		cpu:            "Время CPU: %.1f с",
		cpuNow:         ", сейчас %.1f%% одного ядра",
		orphanYes:      "Сирота: да, переподчинён PID %d (тот, кто его запустил, уже завершился).",
		orphanNo:       "Сирота: нет, родитель PID %d.",
		container:      "Контейнер: %s",
		command:        "Команда: %s",
		action:         "Что делать: выясните, нужен ли он ещё; если нет, остановите его (kill %d, PID в пространстве хоста).",
		recoveredGone:  "PID %d (шаблон %q) завершился, проработав %s (%.0f с); отправлено оповещений: %d.",
		recoveredBelow: "PID %d (шаблон %q) снова ниже порога возраста после %s (%.0f с); отправлено оповещений: %d.",
		more:           "и ещё %d",
		scanFailed:     "НАБЛЮДЕНИЕ НЕДОСТУПНО: %d сканирований процессов подряд%s завершились ошибкой: %s",
		blindNote:      "Блокирующие процессы не обнаруживаются, пока сканирование не заработает снова.",
		scanRecovered:  "НАБЛЮДЕНИЕ ВОССТАНОВЛЕНО: сканирование процессов%s снова работает после %d неудачных.",
		patternWord:    "шаблон",
		alertNumber:    " (оповещение №%d)",
	},
}

func (ms *messages) builtin(ev *Event) string {
	p := phraseSets[ms.lang]
	d := ms.data(ev)
	on := ""
	if d.Host != "" {
		on = fmt.Sprintf(p.onHost, d.Host)
	}
	var b strings.Builder
	switch {
	case ev.Kind == KindScanFailed:
		fmt.Fprintf(&b, p.scanFailed, d.Failures, on, d.Error)
		b.WriteString("\n")
		b.WriteString(p.blindNote)
	case ev.Kind == KindScanRecovered:
		fmt.Fprintf(&b, p.scanRecovered, on, d.Failures)
	case d.Digest:
		fmt.Fprintf(&b, p.digestTitle[ev.Kind], d.Count)
		b.WriteString(on)
		for _, v := range d.Processes {
			fmt.Fprintf(&b, "\n- PID %d, %s, %s %q: %s", v.PID, v.Age, p.patternWord, v.Pattern,
				truncateRunes(v.Cmdline, digestCmdlineRunes))
		}
		if d.More > 0 {
			b.WriteString("\n")
			fmt.Fprintf(&b, p.more, d.More)
		}
	case d.Process != nil:
		v := d.Process
		b.WriteString(p.title[ev.Kind])
		b.WriteString(on)
		if ev.Kind == KindRealert {
			fmt.Fprintf(&b, p.alertNumber, v.AlertsSent)
		}
		b.WriteString("\n")
		if ev.Kind == KindRecovery {
			format := p.recoveredBelow
			if v.Vanished {
				format = p.recoveredGone
			}
			fmt.Fprintf(&b, format, v.PID, v.Pattern, v.Lived, v.LivedSeconds, v.AlertsSent)
			if v.ContainerID != "" {
				b.WriteString("\n")
				fmt.Fprintf(&b, p.container, v.ContainerID)
			}
			b.WriteString("\n")
			fmt.Fprintf(&b, p.command, v.Cmdline)
			break
		}
		fmt.Fprintf(&b, p.running, v.PID, v.Pattern, v.Age, v.AgeSeconds)
		b.WriteString("\n")
		fmt.Fprintf(&b, p.cpu, v.CPUSeconds)
		if v.HasCPUUsage {
			fmt.Fprintf(&b, p.cpuNow, v.CPUUsage)
		}
		b.WriteString("\n")
		if v.Orphan {
			fmt.Fprintf(&b, p.orphanYes, v.PPID)
		} else {
			fmt.Fprintf(&b, p.orphanNo, v.PPID)
		}
		if v.ContainerID != "" {
			b.WriteString("\n")
			fmt.Fprintf(&b, p.container, v.ContainerID)
		}
		b.WriteString("\n")
		fmt.Fprintf(&b, p.action, v.PID)
		b.WriteString("\n")
		fmt.Fprintf(&b, p.command, v.Cmdline)
	}
	return b.String()
}

// humanDuration renders seconds as "2h 03m" (or "5m 07s", "3d 04h 05m").
func humanDuration(seconds float64, lang string) string {
	if !(seconds > 0) || seconds > 1e15 {
		seconds = 0
	}
	// Rounded as the "(%.0f s)" beside it is, so the two never disagree.
	total := int64(math.Round(seconds))
	d, h, m, s := total/86400, total/3600%24, total/60%60, total%60
	units := [4]string{"d", "h", "m", "s"}
	if lang == "ru" {
		units = [4]string{"д", "ч", "м", "с"}
	}
	switch {
	case d > 0:
		return fmt.Sprintf("%d%s %02d%s %02d%s", d, units[0], h, units[1], m, units[2])
	case h > 0:
		return fmt.Sprintf("%d%s %02d%s", h, units[1], m, units[2])
	case m > 0:
		return fmt.Sprintf("%d%s %02d%s", m, units[2], s, units[3])
	}
	return strconv.FormatInt(s, 10) + units[3]
}

// clean makes a value from /proc safe to put in a plain-text line: valid
// UTF-8, and no control characters that could fake lines of the message.
func clean(s string) string {
	ok := utf8.ValidString(s)
	if ok {
		for _, r := range s {
			if unicode.IsControl(r) {
				ok = false
				break
			}
		}
	}
	if ok {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// truncateRunes cuts s to at most n runes, ending with "…" when cut.
func truncateRunes(s string, n int) string {
	if n < 1 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + "…"
}

// limitMessage returns valid UTF-8 of at most maxMessageRunes runes.
func limitMessage(s string) string {
	return truncateRunes(strings.ToValidUTF8(s, "\uFFFD"), maxMessageRunes)
}

// sampleEvents are used to try a template override in Init.
func sampleEvents(kind Kind) []Event {
	now := time.Unix(1_700_000_000, 0).UTC()
	snap := Snapshot{
		Tags:         []Tag{{"host", "h"}, {"pattern", "pytest"}, {"pid", "42"}},
		CreatedAt:    now.Add(-2 * time.Hour).UnixNano(),
		AgeSeconds:   7200,
		Info:         ProcInfo{PID: 42, PPID: 1, CPUSeconds: 1, Orphan: true, Cmdline: "pytest"},
		AlertsSent:   1,
		FirstAlertAt: now,
		LastSeenAt:   now,
	}
	src := []Tag{{"host", "h"}}
	switch kind {
	case KindScanFailed, KindScanRecovered:
		return []Event{{Kind: kind, Time: now, SourceTags: src, Count: 3, Failures: 3, Error: "e"}}
	}
	return []Event{
		{Kind: kind, Time: now, SourceTags: src, Count: 1, Procs: []Snapshot{snap}},
		{Kind: kind, Time: now, SourceTags: src, Count: 2, Procs: []Snapshot{snap, snap}},
	}
}
