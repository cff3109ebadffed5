package telegram

import (
	"html"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/botapitest"
)

func TestFormatHTML(t *testing.T) {
	tests := []struct {
		name, event, message, want string
	}{
		{"alert", "alert", "pid 1 <x> & \"y\"", "🚨 <b>Alert</b>\npid 1 &lt;x&gt; &amp; &quot;y&quot;"},
		{"recovery", "recovery", "gone", "✅ <b>Recovered</b>\ngone"},
		{"scan recovered", "scan_recovered", "ok", "🟢 <b>Scan recovered</b>\nok"},
		{"no event", "", "x", "ℹ️ <b>Event</b>\nx"},
		{"unknown event is escaped", "<i>odd</i>", "x", "ℹ️ <b>&lt;i&gt;odd&lt;/i&gt;</b>\nx"},
		{"invalid utf8 and controls", "alert", "a\xffb\x00c\td\ne", "🚨 <b>Alert</b>\na\uFFFDb\uFFFDc\td\ne"},
		{"entity-like input stays literal", "alert", "&amp; &#60;", "🚨 <b>Alert</b>\n&amp;amp; &amp;#60;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, formatHTML(tt.event, tt.message))
		})
	}
}

func TestFormatPlain(t *testing.T) {
	require.Equal(t, "🚨 Alert\n<b>x</b> & y", formatPlain("alert", "<b>x</b> & y"))
	long := formatPlain("alert", strings.Repeat("x", 5000))
	require.Equal(t, 4096, utf8.RuneCountInString(long))
	require.True(t, strings.HasSuffix(long, "x…"))
}

func TestCutNeverSplitsAnEntity(t *testing.T) {
	head := "🚨 <b>Alert</b>\n"
	budget := maxTextRunes - utf8.RuneCountInString(head)
	// Place an '&' at every offset around the cut point.
	for shift := range 8 {
		msg := strings.Repeat("x", budget-6+shift) + strings.Repeat("&", 10)
		out := formatHTML("alert", msg)
		require.LessOrEqual(t, utf8.RuneCountInString(out), maxTextRunes, "shift %d", shift)
		require.True(t, strings.HasSuffix(out, ";…") || strings.HasSuffix(out, "x…"), "shift %d: %q", shift, out[len(out)-12:])
		require.NoError(t, botapitest.ValidateHTML(out), "shift %d", shift)
	}
	// Exactly at the limit: no cut, no ellipsis.
	exact := strings.Repeat("y", budget)
	require.Equal(t, head+exact, formatHTML("alert", exact))
	require.Equal(t, head+strings.Repeat("y", budget-1)+"…", formatHTML("alert", exact+"y"))
}

// FuzzFormatHTML: whatever bytes arrive in the event tag or the message, the
// text is valid UTF-8, at most 4096 runes, valid Telegram HTML, and holds no
// tag or entity that the formatter did not write itself.
func FuzzFormatHTML(f *testing.F) {
	for _, seed := range [][2]string{
		{"alert", "pytest pid 4001"},
		{"alert", `<a href="http://x">click</a> & </b>`},
		{"recovery", "&amp;&lt;&#x26;&#38;"},
		{"<b>", "\xff\xfe\x00<"},
		{"", strings.Repeat("é&", 700)},
		{"scan_failed", strings.Repeat("<", 1100)},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, event, message string) {
		out := formatHTML(event, message)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8: %q", out)
		}
		if n := utf8.RuneCountInString(out); n > maxTextRunes {
			t.Fatalf("%d runes", n)
		}
		if err := botapitest.ValidateHTML(out); err != nil {
			t.Fatalf("Telegram would refuse %q: %v", out, err)
		}
		emoji, title := header(event)
		head := emoji + " <b>" + escapeHTML(title) + "</b>\n"
		body, ok := strings.CutPrefix(out, head)
		if !ok {
			t.Fatalf("header missing: %q", out)
		}
		checkEscaped(t, body)
		checkEscaped(t, escapeHTML(title))

		// What the reader sees is the message, possibly cut.
		seen := html.UnescapeString(body)
		want := sanitize(message)
		if seen != want {
			prefix, cut := strings.CutSuffix(seen, ellipsis)
			if !cut || !strings.HasPrefix(want, prefix) {
				t.Fatalf("reader sees %q, message was %q", seen, want)
			}
		}

		plain := formatPlain(event, message)
		if !utf8.ValidString(plain) || utf8.RuneCountInString(plain) > maxTextRunes {
			t.Fatalf("plain text invalid or too long: %d runes", utf8.RuneCountInString(plain))
		}
	})
}

// checkEscaped fails when s holds '<' or '>' or an '&' that does not start
// one of the four entities the formatter writes.
func checkEscaped(t *testing.T, s string) {
	t.Helper()
	if strings.ContainsAny(s, "<>") {
		t.Fatalf("unescaped markup in %q", s)
	}
	for i := strings.IndexByte(s, '&'); i >= 0; {
		rest := s[i:]
		if !strings.HasPrefix(rest, "&lt;") && !strings.HasPrefix(rest, "&gt;") &&
			!strings.HasPrefix(rest, "&amp;") && !strings.HasPrefix(rest, "&quot;") {
			t.Fatalf("stray entity at %d in %q", i, s)
		}
		j := strings.IndexByte(s[i+1:], '&')
		if j < 0 {
			break
		}
		i += 1 + j
	}
}
