package alertstate

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/plugins/processors/alertstate/internal/machine"
)

// Any command line, tag and field values: every message is valid UTF-8 of
// at most 4000 runes, starts with its kind's emoji, and holds no control
// character but its own newlines, and no line separator, bidi control or
// zero-width character (so a value cannot fake a line or reorder text), from the
// default templates of both languages or from a user's.
func FuzzRenderMessage(f *testing.F) {
	f.Add("python3 -m pytest tests/", "pytest", "h1", "", byte(0), false, false, 7390.0, "")
	f.Add(strings.Repeat("тест\x00", 20), "p\xff", "h\r\n", "c", byte(9), true, true, -1.0, "e\x1b[31m")
	f.Add("pytest\u2028Parent: PID 1\u202E", "p\u200B", "h\u2029", "c\u2066", byte(0x80), false, true, 9.0, "e\uFEFF")
	override, err := newMessages("en", map[string]string{
		"alert":       "{{.Host}} {{range .Jobs}}{{.Cmdline}}{{.Pattern}}{{.ContainerID}}{{.Comm}}{{range .Others}}{{.Cmdline}}{{end}}{{end}}",
		"recovery":    "{{.Job.Cmdline}}{{duration .Job.LivedSeconds}}{{.Tags}}",
		"scan_failed": "{{.Error}}{{.Tags}}",
	})
	require.NoError(f, err)
	defaults := map[bool]*messages{}
	for _, ru := range []bool{false, true} {
		defaults[ru], err = newMessages(map[bool]string{false: "en", true: "ru"}[ru], nil)
		require.NoError(f, err)
	}
	kinds := []machine.Kind{machine.KindAlert, machine.KindRealert, machine.KindRecovery, machine.KindScanFailed, machine.KindScanRecovered}
	f.Fuzz(func(t *testing.T, cmdline, pattern, host, container string, kind byte, digest, ru bool, age float64, errText string) {
		head := machine.Proc{PID: 42, PPID: 1, Age: age, CPUSeconds: age, CPUUsage: age, HasCPUUsage: true, Orphan: digest, OrphanKnown: ru,
			Pattern: pattern, Cmdline: cmdline, ContainerID: container, Comm: pattern}
		snap := machine.Snapshot{Job: machine.JobID{PID: 42, CreatedAt: 1}, Head: head, AlertsSent: 1, LastSeenAt: 2,
			Others: []machine.Proc{head, head}}
		ev := machine.Event{
			Kind:       kinds[int(kind&0x7f)%len(kinds)],
			SourceTags: []machine.Tag{{Key: "host", Value: host}, {Key: host, Value: pattern}},
			Jobs:       []machine.Snapshot{snap},
			Error:      errText,
			Failures:   3,
		}
		if digest {
			for range 11 {
				ev.Jobs = append(ev.Jobs, snap)
			}
		}
		ms := defaults[ru]
		if kind&0x80 != 0 {
			ms = override
		}
		var msgs []string
		switch {
		case ev.Kind == machine.KindScanFailed || ev.Kind == machine.KindScanRecovered:
			ev.Jobs = nil
			msg, _, err := ms.scan(&ev)
			require.NoError(t, err)
			msgs = append(msgs, msg)
		case digest:
			parts, err := ms.digest(&ev)
			require.NoError(t, err)
			n := 0
			for _, p := range parts {
				msgs = append(msgs, p.text)
				n += len(p.jobs)
			}
			require.Equal(t, len(ev.Jobs), n, "every job in one part")
		default:
			msg, _, err := ms.job(&ev)
			require.NoError(t, err)
			msgs = append(msgs, msg)
		}
		for _, msg := range msgs {
			require.True(t, utf8.ValidString(msg), "invalid UTF-8: %q", msg)
			require.LessOrEqual(t, utf8.RuneCountInString(msg), maxMessageRunes)
			require.True(t, strings.HasPrefix(msg, headlineEmoji[ev.Kind]), "%q", msg)
			for _, r := range msg {
				if r < 0x20 && r != '\n' || r == 0x7f || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
					t.Fatalf("character %U that could fake a line or reorder text in %q", r, msg)
				}
			}
		}
	})
}
