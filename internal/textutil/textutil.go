// Package textutil holds the text helpers the plugins share, so that each
// rule (how a long text is cut, what text from a process may show) exists
// once.
package textutil

import "unicode/utf8"

// Ellipsis ends a text that Truncate cut.
const Ellipsis = "…"

// Truncate returns s if it has at most n runes; otherwise its first n-1 runes
// followed by Ellipsis, so the result never exceeds n runes and is never cut
// inside a character. n < 1 gives "".
func Truncate(s string, n int) string {
	if n < 1 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	count := 0
	for i := range s {
		if count == n-1 {
			return s[:i] + Ellipsis
		}
		count++
	}
	return s
}
