package telegram

import (
	"strings"
	"unicode/utf8"
)

// maxTextRunes is sendMessage's limit on the text. Telegram counts it after
// entity parsing; counting the escaped text instead keeps us safely under it.
const maxTextRunes = 4096

// ellipsis marks a text cut to fit.
const ellipsis = "…"

// maxEventRunes bounds an unknown event kind shown in the header.
const maxEventRunes = 64

// eventTitles are the header of each event kind alertstate emits.
var eventTitles = map[string]struct{ emoji, title string }{
	"alert":          {"🚨", "Alert"},
	"realert":        {"🔁", "Still running"},
	"recovery":       {"✅", "Recovered"},
	"scan_failed":    {"⚠️", "Scan failed"},
	"scan_recovered": {"🟢", "Scan recovered"},
}

// header is the first line of a message, plain (not escaped).
func header(event string) (emoji, title string) {
	if h, ok := eventTitles[event]; ok {
		return h.emoji, h.title
	}
	if event == "" {
		return "ℹ️", "Event"
	}
	event = sanitize(event)
	if utf8.RuneCountInString(event) > maxEventRunes {
		event = string([]rune(event)[:maxEventRunes]) + ellipsis
	}
	return "ℹ️", event
}

// formatHTML renders an event for parse_mode HTML: the event kind as a bold
// first line, then the message escaped so that nothing in it (a command line
// is attacker-controlled text) can become markup, an entity or a link. The
// result is at most maxTextRunes runes; a long message is cut between escaped
// pieces, so an entity is never cut in half.
func formatHTML(event, message string) string {
	emoji, title := header(event)
	head := emoji + " <b>" + escapeHTML(title) + "</b>\n"
	return head + cutPieces(sanitize(message), maxTextRunes-utf8.RuneCountInString(head), escapeRune)
}

// formatPlain renders an event without markup, for the plain-text resend.
func formatPlain(event, message string) string {
	emoji, title := header(event)
	head := emoji + " " + title + "\n"
	return head + cutPieces(sanitize(message), maxTextRunes-utf8.RuneCountInString(head), func(r rune) string { return string(r) })
}

// cutPieces maps each rune of s to a piece and joins the pieces; when the
// result would exceed budget runes it keeps only whole pieces and ends with
// the ellipsis, staying within budget.
func cutPieces(s string, budget int, piece func(rune) string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteString(piece(r))
	}
	if utf8.RuneCountInString(b.String()) <= budget {
		return b.String()
	}
	b.Reset()
	used := 0
	for _, r := range s {
		p := piece(r)
		n := utf8.RuneCountInString(p)
		if used+n > budget-1 {
			break
		}
		b.WriteString(p)
		used += n
	}
	return b.String() + ellipsis
}

func escapeRune(r rune) string {
	switch r {
	case '&':
		return "&amp;"
	case '<':
		return "&lt;"
	case '>':
		return "&gt;"
	case '"':
		return "&quot;"
	}
	return string(r)
}

func escapeHTML(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteString(escapeRune(r))
	}
	return b.String()
}

// sanitize makes s valid UTF-8 and replaces control characters other than
// newline and tab, which Telegram would reject or show as garbage.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f {
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
