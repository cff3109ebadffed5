package textutil

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// PlainLine makes text that came from a process (a command line, a comm, a
// container ID, a tag) safe inside one line of a message read by a person:
// valid UTF-8, and each character that could fake a line or reorder the text
// around it replaced by a space. Those are the control characters (Cc: NUL,
// newline, ESC...), the line and paragraph separators (U+2028, U+2029), and
// the format characters (Cf), which hold the bidi controls (U+202A–U+202E,
// U+2066–U+2069, U+200E, U+200F, U+061C), the zero-width characters (U+200B–
// U+200D, U+2060, U+FEFF, U+180E) and the other invisible ones (soft hyphen,
// invisible operators, tags); plus the Hangul fillers, letters that render as
// nothing. Text with none of them is returned as is, without allocating.
func PlainLine(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, hidden) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if hidden(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// hidden tells whether r is one of the characters PlainLine replaces.
func hidden(r rune) bool {
	if r < 0x80 {
		return r < 0x20 || r == 0x7f
	}
	switch r {
	case '\u115F', '\u1160', '\u3164', '\uFFA0': // Hangul fillers
		return true
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}
