package botclient

import (
	"fmt"
	"html"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/textutil"
)

func TestFormatHTML(t *testing.T) {
	tests := []struct {
		name, message, want string
	}{
		{"headline and details", "🚨 pid 1 <x>\n& \"y\" 'z'", "<b>🚨 pid 1 &lt;x&gt;</b>\n&amp; &#34;y&#34; &#39;z&#39;"},
		{"headline only", "✅ gone", "<b>✅ gone</b>"},
		{"russian", "🚨 Блокирующий процесс\nPID 4001", "<b>🚨 Блокирующий процесс</b>\nPID 4001"},
		{"no emoji, unknown producer", "Deploy done\n3 hosts", "<b>Deploy done</b>\n3 hosts"},
		{"blank first line is not bolded", "\nbody", "\nbody"},
		{"invalid utf8 and controls", "a\xffb\x00c\td\ne", "<b>a\uFFFDb\uFFFDc\td</b>\ne"},
		{"entity-like input stays literal", "&amp; &#60;", "<b>&amp;amp; &amp;#60;</b>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, formatHTML(tt.message))
		})
	}
}

// The cut counts what Telegram counts (the characters after entity parsing)
// and happens before escaping, so an entity is never cut in half.
func TestCutCountsVisibleCharacters(t *testing.T) {
	for shift := range 8 {
		msg := "🚨 x\n" + strings.Repeat("x", MaxTextRunes-10+shift) + strings.Repeat("&<", 10)
		out := formatHTML(msg)
		require.NoError(t, botapitest.ValidateHTML(out), "shift %d", shift)
		visible := botapitest.VisibleText(out, "HTML")
		require.Equal(t, MaxTextRunes, utf8.RuneCountInString(visible), "shift %d", shift)
		require.Equal(t, textutil.Truncate(msg, MaxTextRunes), visible, "shift %d", shift)
	}
	// Exactly at the limit: no cut, no ellipsis.
	exact := "🚨 x\n" + strings.Repeat("&", MaxTextRunes-4)
	require.Equal(t, "<b>🚨 x</b>\n"+strings.Repeat("&amp;", MaxTextRunes-4), formatHTML(exact))
	require.True(t, strings.HasSuffix(formatHTML(exact+"&"), "&amp;…"))
}

func TestPack(t *testing.T) {
	parts := func(lengths ...int) []Rendered {
		var out []Rendered
		for i, n := range lengths {
			out = append(out, Render(fmt.Sprintf("%c", 'a'+i)+strings.Repeat("<", n-1), MaxTextRunes))
		}
		return out
	}
	// Whole events joined by a blank line, up to 4096 visible characters.
	n, h, p := Pack(parts(2000, 2000, 100))
	require.Equal(t, 2, n, "2000 + 2 + 2000 fit, one more does not")
	require.Equal(t, 4002, utf8.RuneCountInString(botapitest.VisibleText(h, "HTML")))
	require.Equal(t, p, botapitest.VisibleText(h, "HTML"))
	require.Equal(t, 2, strings.Count(h, "<b>"))

	n, _, _ = Pack(parts(2047, 2047))
	require.Equal(t, 2, n, "exactly 4096")
	n, _, _ = Pack(parts(2047, 2048))
	require.Equal(t, 1, n)
	n, h, _ = Pack(parts(MaxTextRunes))
	require.Equal(t, 1, n, "a message as long as the limit goes alone")
	require.Equal(t, MaxTextRunes, utf8.RuneCountInString(botapitest.VisibleText(h, "HTML")))

	// At most MaxEventsPerMessage bold entities in one message.
	many := make([]Rendered, 150)
	for i := range many {
		many[i] = Render("x", MaxTextRunes)
	}
	n, h, _ = Pack(many)
	require.Equal(t, MaxEventsPerMessage, n)
	require.Equal(t, MaxEventsPerMessage, strings.Count(h, "<b>"))
	require.NoError(t, botapitest.ValidateHTML(h))
}

// FuzzFormatHTML: whatever bytes arrive in a message, alone or merged with
// others, the text is valid UTF-8, at most 4096 characters as Telegram
// counts them, valid Telegram HTML whose only tags are the bold headlines,
// and shows the reader each message as it was (sanitized, maybe cut).
func FuzzFormatHTML(f *testing.F) {
	for _, seed := range [][2]string{
		{"🚨 pytest pid 4001\ncmdline", "✅ gone"},
		{`<a href="http://x">click</a> & </b>`, "\n\n"},
		{"&amp;&lt;&#x26;&#38;\n'\"", ""},
		{"\xff\xfe\x00<", "<b>"},
		{strings.Repeat("é&", 700), strings.Repeat("\n<", 2100)},
		{strings.Repeat("<", 1100) + "\n" + strings.Repeat("x", 5000), "ok"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, first, second string) {
		for _, message := range []string{first, second} {
			out := formatHTML(message)
			checkMessage(t, out)
			seen := botapitest.VisibleText(out, "HTML")
			if want := textutil.Truncate(Sanitize(message), MaxTextRunes); seen != want {
				t.Fatalf("reader sees %q, message was %q", seen, want)
			}
			headline, _, _ := strings.Cut(seen, "\n")
			if strings.TrimSpace(headline) != "" && !strings.HasPrefix(out, "<b>") {
				t.Fatalf("headline not bold: %q", out)
			}
			if strings.Count(out, "<b>") > 1 {
				t.Fatalf("more than the headline is bold: %q", out)
			}
		}
		parts := []Rendered{Render(first, MaxTextRunes), Render(second, MaxTextRunes), Render(first, MaxTextRunes)}
		n, merged, plain := Pack(parts)
		checkMessage(t, merged)
		if n < 1 || botapitest.VisibleText(merged, "HTML") != plain {
			t.Fatalf("merged %d parts: %q shows %q", n, merged, plain)
		}
		var want []string
		for _, p := range parts[:n] {
			want = append(want, p.Plain)
		}
		if plain != strings.Join(want, Separator) {
			t.Fatalf("merged text %q, want the parts whole and in order", plain)
		}
	})
}

// checkMessage fails unless Telegram would accept text in parse_mode HTML
// with no tag but <b> and no entity but the escapes.
func checkMessage(t *testing.T, text string) {
	t.Helper()
	if !utf8.ValidString(text) {
		t.Fatalf("invalid UTF-8: %q", text)
	}
	if err := botapitest.ValidateHTML(text); err != nil {
		t.Fatalf("Telegram would refuse %q: %v", text, err)
	}
	if n := utf8.RuneCountInString(botapitest.VisibleText(text, "HTML")); n > MaxTextRunes {
		t.Fatalf("%d characters", n)
	}
	body := strings.NewReplacer("<b>", "", "</b>", "").Replace(text)
	if strings.ContainsAny(body, "<>") {
		t.Fatalf("markup other than <b> in %q", text)
	}
	if html.UnescapeString(body) != strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&#34;", `"`, "&#39;", "'").Replace(body) {
		t.Fatalf("an entity the formatter did not write in %q", text)
	}
}

// formatHTML is one message as sent in parse_mode HTML.
func formatHTML(message string) string { return Render(message, MaxTextRunes).HTML }
