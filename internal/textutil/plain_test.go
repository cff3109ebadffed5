package textutil

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// Every character a process could use to fake a line of an alert or reorder
// its text, as named by the Unicode standard's bidi and line-breaking
// annexes (UAX #9, UAX #14) and the zero-width characters.
var fakers = []rune{
	'\n', '\r', '\t', '\x00', '\x1b', '\x7f', '\u0085', // controls, NEL
	'\u2028', '\u2029', // line and paragraph separators
	'\u202A', '\u202B', '\u202C', '\u202D', '\u202E', // embeddings and overrides
	'\u2066', '\u2067', '\u2068', '\u2069', // isolates
	'\u200E', '\u200F', '\u061C', // marks
	'\u200B', '\u200C', '\u200D', '\u2060', '\uFEFF', '\u180E', // zero-width
	'\u00AD', '\u2061', '\u2062', '\u2063', '\u2064', '\U000E0001', '\U000E0041', // soft hyphen, invisible operators, tags
	'\u115F', '\u1160', '\u3164', '\uFFA0', // Hangul fillers
}

func TestPlainLineReplacesEveryFaker(t *testing.T) {
	for _, r := range fakers {
		in := "pytest" + string(r) + "Parent: PID 1"
		got := PlainLine(in)
		require.Equal(t, "pytest Parent: PID 1", got, "%U", r)
	}
}

func TestPlainLineKeepsText(t *testing.T) {
	for _, s := range []string{
		"", "python3 -m pytest tests/test_api.py -x",
		"pytest tests/тест_вход.py", "pytest -k '日本語 and not 🚨'", "née café", "עברית عربى", // RTL letters are not controls
	} {
		require.Equal(t, s, PlainLine(s))
	}
}

func TestPlainLineMakesValidUTF8(t *testing.T) {
	require.Equal(t, "py\uFFFDtest", PlainLine("py\xff\xfetest"))
	require.Equal(t, "a \uFFFD b", PlainLine("a\u202E\xc3\u2028b"))
}

func TestPlainLineAllocatesNothingForPlainText(t *testing.T) {
	s := "python3 -m pytest tests/тест.py -n 8"
	require.Zero(t, testing.AllocsPerRun(100, func() { _ = PlainLine(s) }))
}

// Whatever the input: valid UTF-8, the same number of characters, no
// character that could fake a line or reorder text, and each kept
// character where it was.
func FuzzPlainLine(f *testing.F) {
	f.Add("python3 -m pytest\u2028Parent: PID 1")
	f.Add("\u202Etset\u202C \xff\u200B")
	f.Add(strings.Repeat("\U000E0041", 3) + "\u3164")
	f.Fuzz(func(t *testing.T, s string) {
		got := PlainLine(s)
		require.True(t, utf8.ValidString(got))
		valid := []rune(strings.ToValidUTF8(s, "\uFFFD"))
		out := []rune(got)
		require.Len(t, out, len(valid))
		for i, r := range out {
			switch {
			case hidden(valid[i]):
				require.Equal(t, ' ', r)
			default:
				require.Equal(t, valid[i], r)
			}
			require.False(t, unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp), "%U left in %q", r, got)
		}
	})
}
