package alertstate

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// Any command line and tag values: the message is valid UTF-8 of at most
// 4000 runes, with no control character except the message's own newlines
// (so a value cannot fake a line), built-in or from a template override.
func FuzzRenderMessage(f *testing.F) {
	f.Add("python3 -m pytest tests/", "pytest", "h1", "", byte(0), false, false, 7390.0, "")
	f.Add(strings.Repeat("тест\x00", 20), "p\xff", "h\r\n", "c", byte(9), true, true, -1.0, "e\x1b[31m")
	override, err := newMessages("en", map[string]string{
		"alert":       "{{.Host}} {{range .Processes}}{{.Cmdline}}{{.Pattern}}{{.ContainerID}}{{.Comm}}{{end}}",
		"recovery":    "{{.Process.Cmdline}}{{.Process.Lived}}{{.Process.Tags}}",
		"scan_failed": "{{.Error}}{{.Tags}}",
	})
	require.NoError(f, err)
	builtin := map[bool]*messages{}
	for _, ru := range []bool{false, true} {
		lang := map[bool]string{false: "en", true: "ru"}[ru]
		builtin[ru], err = newMessages(lang, nil)
		require.NoError(f, err)
	}
	f.Fuzz(func(t *testing.T, cmdline, pattern, host, container string, kind byte, digest, ru bool, age float64, errText string) {
		snap := Snapshot{
			Tags:       []Tag{{"host", host}, {"pattern", pattern}, {"pid", "42"}, {host, pattern}},
			CreatedAt:  1,
			AgeSeconds: age,
			Info:       ProcInfo{PID: 42, PPID: 1, CPUSeconds: age, CPUUsage: age, HasCPUUsage: true, Orphan: digest, Cmdline: cmdline, ContainerID: container, Comm: pattern},
			AlertsSent: 1,
		}
		ev := Event{
			Kind:       templateNames[int(kind&0x7f)%len(templateNames)],
			SourceTags: []Tag{{"host", host}},
			Count:      1,
			Procs:      []Snapshot{snap},
			Error:      errText,
			Failures:   3,
		}
		if digest {
			for range 11 {
				ev.Procs = append(ev.Procs, snap)
			}
			ev.Count = len(ev.Procs)
		}
		ms := builtin[ru]
		if kind&0x80 != 0 {
			ms = override
		}
		msg, err := ms.render(&ev)
		require.NoError(t, err)
		require.True(t, utf8.ValidString(msg), "invalid UTF-8: %q", msg)
		require.LessOrEqual(t, utf8.RuneCountInString(msg), maxMessageRunes)
		for _, r := range msg {
			if r < 0x20 && r != '\n' || r == 0x7f {
				t.Fatalf("control character %U in %q", r, msg)
			}
		}
	})
}

// Any bytes: an error or a state that restores, saves and loads again; never
// a panic.
func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"version":1,"generation":1,"processes":[]}`))
	f.Add([]byte(`{"version":1,"processes":[{"tags":{"pid":"1"},"alerts_sent":1,"cpu_usage":1e308}]}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeState(data)
		if err != nil {
			return
		}
		m := NewMachine(testConfig())
		require.NoError(t, m.Restore(st))
		data2, err := encodeState(m.Snapshot())
		require.NoError(t, err)
		st2, err := decodeState(data2)
		require.NoError(t, err)
		require.Len(t, st2.Processes, m.Tracked())
	})
}
