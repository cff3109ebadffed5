package alertstate

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// TC-01 of the reference watchdog: the alert of a long-lived process names
// its PID, its age in seconds, a fragment of its command line and its CPU,
// and in Russian it says "Блокирующий процесс", the words its users search
// their chats for.
func TestTC01AlertDetail(t *testing.T) {
	for _, lang := range []string{"ru", "en"} {
		t.Run(lang, func(t *testing.T) {
			p := plugin(t, func(p *AlertState) { p.Language = lang })
			out := events(p.Apply(procMetric("h1", 4242, t0.Add(-7200*time.Second), t0), scanMetric("h1", t0, true, 1)))
			require.Len(t, out, 1)
			msg := messageOf(t, out[0])
			for _, want := range []string{"4242", "7200", "pytest", "CPU"} {
				require.Contains(t, msg, want)
			}
			if lang == "ru" {
				require.Contains(t, msg, "Блокирующий процесс")
			}
		})
	}
}

// TC-05 of the reference watchdog, in Russian: one alert, nothing within
// the cooldown, a realert, exactly one recovery (with "восстановление" and
// "Блокирующий"), then nothing.
func TestTC05AlertThrottleRealertRecovery(t *testing.T) {
	p := plugin(t, func(p *AlertState) { p.Language = "ru" })
	created := t0.Add(-7200 * time.Second)
	var sent []string
	tick := func(s float64, running bool) {
		in := []telegraf.Metric{scanMetric("h1", secs(s), true, 0)}
		if running {
			in = []telegraf.Metric{procMetric("h1", 7, created, secs(s)), scanMetric("h1", secs(s), true, 1)}
		}
		for _, m := range in {
			for _, e := range events(p.Apply(m)) {
				sent = append(sent, messageOf(t, e))
			}
		}
	}
	alerts := func() int { return count(sent, "Блокирующий процесс") }
	recoveries := func() int { return count(sent, "восстановление", "Блокирующий") }

	tick(0, true)
	require.Equal(t, 1, alerts())
	tick(100, true)
	require.Equal(t, 1, alerts(), "within the cooldown")
	tick(1100, true)
	require.Equal(t, 2, alerts(), "the realert")
	require.Zero(t, recoveries())
	tick(1200, false)
	require.Equal(t, 1, recoveries())
	tick(1300, false)
	require.Equal(t, 1, recoveries(), "no repeated recovery")
	require.Len(t, sent, 3)
}

// count is the number of texts containing all of words.
func count(texts []string, words ...string) int {
	n := 0
	for _, s := range texts {
		all := true
		for _, w := range words {
			all = all && strings.Contains(s, w)
		}
		if all {
			n++
		}
	}
	return n
}

// Each message is in one language: no Latin words in a Russian message but
// the data (PIDs, patterns, command lines, host names) and "PID"/"CPU", no
// Cyrillic in an English one.
func TestMessagesInOneLanguage(t *testing.T) {
	for _, ex := range readmeExamples(t) {
		text := ex.text
		for _, data := range []string{"timeout 3600 python3 -m pytest tests/integration -x", "python3 -m pytest tests/integration -x",
			"python3 -m pytest tests/test_", ".py", "ci-runner-3", "ci-runner-7", "ci-runner-9", "(pytest)", "4f1c2b9a8e7d",
			"open /host/proc: permission denied", "PID", "CPU"} {
			text = strings.ReplaceAll(text, data, "")
		}
		for _, r := range text {
			switch ex.lang {
			case "ru":
				require.False(t, r < unicode.MaxASCII && unicode.IsLetter(r), "Latin %q in the Russian %s:\n%s", r, ex.title, ex.text)
			case "en":
				require.False(t, unicode.Is(unicode.Cyrillic, r), "Cyrillic in the English %s:\n%s", ex.title, ex.text)
			}
		}
	}
}

// Under a minute the age is said once ("8 s"), above it in both forms:
// "2h 03m (7390 s)". Without an orphan field the orphan state is unknown.
func TestAgeAndOrphanWording(t *testing.T) {
	tests := []struct {
		lang          string
		age           time.Duration
		orphanUnknown bool
		want          string
	}{
		{"en", 8 * time.Second, false, "PID 7 (pytest) running for 8 s, orphaned: yes\n"},
		{"en", 7390 * time.Second, true, "PID 7 (pytest) running for 2h 03m (7390 s), orphaned: unknown\n"},
		{"en", 3*24*time.Hour + 4*time.Hour + 5*time.Minute, false, "running for 3d 04h 05m (273900 s), orphaned: yes\n"},
		{"ru", 8 * time.Second, true, "PID 7 (pytest) работает уже 8 с, сирота: неизвестно\n"},
		{"ru", 7390 * time.Second, false, "PID 7 (pytest) работает уже 2 ч 03 мин (7390 с), сирота: да\n"},
	}
	for _, tt := range tests {
		p := plugin(t, func(p *AlertState) { p.Language = tt.lang; p.Threshold = config.Duration(time.Second) })
		m := proc{host: "h1", pid: 7, created: t0.Add(-tt.age), orphanUnknown: tt.orphanUnknown}.at(t0)
		out := events(p.Apply(m, scanMetric("h1", t0, true, 1)))
		require.Len(t, out, 1)
		require.Contains(t, messageOf(t, out[0]), tt.want)
		_, hasOrphan := out[0].GetField("orphan")
		require.Equal(t, !tt.orphanUnknown, hasOrphan, "the orphan field is left out when unknown")
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		seconds float64
		lang    string
		want    string
	}{
		{0, "en", "0 s"},
		{-3, "en", "0 s"},
		{5.8, "en", "6 s"},
		{59.6, "en", "1m 00s"},
		{307, "en", "5m 07s"},
		{7380, "en", "2h 03m"},
		{3*86400 + 4*3600 + 5*60, "en", "3d 04h 05m"},
		{7380, "ru", "2 ч 03 мин"},
		{307, "ru", "5 мин 07 с"},
		{3*86400 + 4*3600 + 5*60, "ru", "3 д 04 ч 05 мин"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, humanDuration(tt.seconds, units[tt.lang]), "%v s in %s", tt.seconds, tt.lang)
	}
}

// User templates go through the same path as the default ones: they may use
// the defaults' parts, get the emoji of their kind in front when they lack
// it, and a template that fails sends the default message instead.
func TestTemplateOverride(t *testing.T) {
	log := &testutil.CaptureLogger{}
	p := plugin(t, func(p *AlertState) {
		p.Log = log
		p.Templates = map[string]string{
			"alert":    `{{if .Digest}}{{.Count}}{{template "on" .}}{{else}}{{with .Job}}{{.Pattern}} {{.PID}} {{duration .AgeSeconds}} orphan={{.Orphan}} {{truncate 6 .Cmdline}}{{end}}{{end}}`,
			"recovery": `✅ gone {{.Job.PID}} after {{duration .Job.LivedSeconds}}, {{.Job.AlertsSent}} alert(s){{with index .Tags "zone"}} in {{.}}{{end}}`,
		}
	})
	created := t0.Add(-2 * time.Hour)
	out := events(p.Apply(procMetric("h1", 7, created, t0), scanMetric("h1", t0, true, 1)))
	require.Equal(t, "🚨 pytest 7 2h 00m orphan=true pytho…", messageOf(t, out[0]))
	out = events(p.Apply(scanMetric("h1", t0.Add(time.Minute), true, 0)))
	require.Equal(t, "✅ gone 7 after 2h 00m, 1 alert(s)", messageOf(t, out[0]))
	require.Empty(t, log.Warnings())

	// A template that fails at run time: the default message, and a warning.
	p = plugin(t, func(p *AlertState) {
		p.Log = log
		p.Templates = map[string]string{"alert": `{{if gt .Job.PID 100}}{{index .Job.Others 5}}{{end}}`}
	})
	out = events(p.Apply(procMetric("h1", 4242, created, t0), scanMetric("h1", t0, true, 1)))
	require.True(t, strings.HasPrefix(messageOf(t, out[0]), "🚨 Blocking process on h1\nPID 4242 (pytest)"), messageOf(t, out[0]))
	require.Len(t, log.Warnings(), 1)
	require.Contains(t, log.Warnings()[0], `Template for "alert" failed`)
}

// A 100 kB command line of multi-byte characters stays under the limit and
// is cut between characters.
func TestLongCmdline(t *testing.T) {
	p := plugin(t, nil)
	long := strings.Repeat("тест-", 20000) // 5 runes, 9 bytes each
	require.Greater(t, len(long), 100_000)
	out := events(p.Apply(proc{host: "h1", pid: 7, created: t0.Add(-2 * time.Hour), cmdline: long}.at(t0), scanMetric("h1", t0, true, 1)))
	require.Len(t, out, 1)
	msg := messageOf(t, out[0])
	require.True(t, utf8.ValidString(msg))
	require.Equal(t, maxMessageRunes, utf8.RuneCountInString(msg))
	require.True(t, strings.HasSuffix(msg, "…"))
	require.True(t, strings.HasPrefix(msg, "🚨 Blocking process on h1\n"))
	// The field keeps what the input sent (it already bounds it).
	cmd, _ := out[0].GetField("cmdline")
	require.Equal(t, long, cmd)
}

func TestControlCharactersCannotFakeLines(t *testing.T) {
	p := plugin(t, nil)
	m := proc{host: "h1", pid: 7, created: t0.Add(-2 * time.Hour), cmdline: "pytest\n✅ Blocking process: recovered\x00\xff"}.at(t0)
	msg := messageOf(t, events(p.Apply(m, scanMetric("h1", t0, true, 1)))[0])
	require.True(t, utf8.ValidString(msg))
	require.Contains(t, msg, "Command: pytest ✅ Blocking process: recovered \uFFFD")
	require.NotContains(t, msg, "\n✅")
}

// A command line, comm or container ID cannot fake a line with the line and
// paragraph separators, reorder the text around it with bidi controls, or
// hide text with zero-width characters: each becomes a space, as control
// characters do.
func TestUnicodeCannotFakeLinesOrReorderText(t *testing.T) {
	p := plugin(t, nil)
	fakers := "\u2028Parent: PID 1\u2029\u202Eevil\u202C\u2066x\u2069\u200E\u200F\u061C\u200B\u200C\u200D\u2060\uFEFF\u180E"
	m := proc{host: "h1", pid: 7, created: t0.Add(-2 * time.Hour), cmdline: "pytest" + fakers}.at(t0)
	m.AddField("comm", "py"+fakers)
	m.AddField("container_id", "c"+fakers)
	msg := messageOf(t, events(p.Apply(m, scanMetric("h1", t0, true, 1)))[0])
	require.True(t, strings.HasSuffix(msg, "\nCommand: pytest Parent: PID 1  evil  x"), "%q", msg)
	require.Len(t, regexp.MustCompile(`(?m)^Parent: `).FindAllString(msg, -1), 1, "only the real Parent line:\n%s", msg)
	for _, r := range msg {
		require.False(t, unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp), "%U in %q", r, msg)
	}
}

var pidsInMessage = regexp.MustCompile(`(?m)^PID (\d+)|^(?:Also PIDs|Ещё PID:) ([\d, ]+)$`)

// pidsOf lists the jobs a digest message names: one line each for the first
// ten, then the others' PIDs in one list.
func pidsOf(t *testing.T, msg string) []int {
	var out []int
	for _, m := range pidsInMessage.FindAllStringSubmatch(msg, -1) {
		for _, f := range strings.FieldsFunc(m[1]+" "+m[2], func(r rune) bool { return r == ',' || r == ' ' }) {
			n, err := strconv.Atoi(f)
			require.NoError(t, err)
			out = append(out, n)
		}
	}
	return out
}

// A digest names every job: when they do not fit in one message of 4000
// runes, several digest events share them, each job in exactly one.
func TestDigestAccountsForEveryJob(t *testing.T) {
	for _, tc := range []struct {
		lang  string
		n     int
		parts int
	}{{"en", 50, 1}, {"en", 2000, 6}, {"ru", 2000, 6}} {
		t.Run(tc.lang+"/"+strconv.Itoa(tc.n), func(t *testing.T) {
			p := plugin(t, func(p *AlertState) { p.Language = tc.lang })
			var in []telegraf.Metric
			for i := range tc.n {
				in = append(in, procMetric("h1", 100000+i, t0.Add(-2*time.Hour-time.Duration(i)*time.Second), t0))
			}
			in = append(in, scanMetric("h1", t0, true, int64(tc.n)))
			out := events(p.Apply(in...))
			require.LessOrEqual(t, len(out), tc.parts, "a handful of digests")
			seen := map[int]int{}
			ids := map[string]bool{}
			total := 0
			for i, e := range out {
				msg := messageOf(t, e)
				require.LessOrEqual(t, utf8.RuneCountInString(msg), maxMessageRunes)
				require.NotContains(t, msg, "…\n", "nothing cut")
				require.True(t, strings.HasPrefix(msg, "🚨 "), msg)
				if len(out) > 1 {
					from, to := total+1, total+int(e.Fields()["count"].(int64))
					head := map[string]string{"en": "🚨 %d–%d of %d blocking processes on h1", "ru": "🚨 Блокирующие процессы на h1: %d–%d из %d"}[tc.lang]
					require.Equal(t, strings.NewReplacer("%d–%d", strconv.Itoa(from)+"–"+strconv.Itoa(to), "%d", strconv.Itoa(tc.n)).Replace(head),
						strings.SplitN(msg, "\n", 2)[0], "part %d", i)
				}
				pids := pidsOf(t, msg)
				require.Len(t, pids, int(e.Fields()["count"].(int64)))
				total += len(pids)
				for _, pid := range pids {
					seen[pid]++
				}
				for _, id := range strings.Fields(e.Fields()["alert_ids"].(string)) {
					require.False(t, ids[id], "alert_id %s twice", id)
					ids[id] = true
				}
			}
			require.Equal(t, tc.n, total)
			require.Len(t, seen, tc.n)
			require.Len(t, ids, tc.n)
			for pid, n := range seen {
				require.Equal(t, 1, n, "PID %d", pid)
			}
		})
	}
}
