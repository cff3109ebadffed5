package botclient

import (
	"html"
	"strings"
	"unicode/utf8"

	"github.com/procblocking/procblocking/internal/textutil"
)

// MaxTextRunes is sendMessage's limit on the text: 4096 characters, counted
// by Telegram after entity parsing (so "&lt;" is one). The formatter counts
// the characters the reader sees, not the markup.
const MaxTextRunes = 4096

// MaxEventsPerMessage bounds the events merged into one message: each brings
// one bold entity, and Telegram keeps at most 100 entities in a message.
const MaxEventsPerMessage = 100

// Separator goes between the events of a merged message: a blank line.
const Separator = "\n\n"

// Rendered is one event's text, ready to send.
type Rendered struct {
	HTML  string // for parse_mode HTML: the first line bold, everything escaped
	Plain string // the same text without markup, for the plain-text resend
	runes int    // characters the reader sees (the same in both)
}

// Render formats a message: the text cut to at most budget characters, then
// its first line (the headline, in the producer's language) in bold and the
// rest as escaped plain text. Nothing in it (a command line is text anyone
// can write) can become markup, an entity or a link, and no word is added.
// Cutting before escaping keeps an entity whole and counts what Telegram
// counts.
func Render(message string, budget int) Rendered {
	text := textutil.Truncate(Sanitize(message), budget)
	headline, rest, multiline := strings.Cut(text, "\n")
	var b strings.Builder
	if strings.TrimSpace(headline) != "" {
		b.WriteString("<b>" + html.EscapeString(headline) + "</b>")
	} else {
		b.WriteString(headline)
	}
	if multiline {
		b.WriteString("\n" + html.EscapeString(rest))
	}
	return Rendered{HTML: b.String(), Plain: text, runes: utf8.RuneCountInString(text)}
}

// Pack returns how many of parts, from the first, fit in one message (at
// least one: a part is never longer than a message), and that message in
// both forms. Parts are joined by a blank line, whole and in order.
func Pack(parts []Rendered) (n int, htmlText, plainText string) {
	used := 0
	for n < len(parts) && n < MaxEventsPerMessage {
		add := parts[n].runes
		if n > 0 {
			add += utf8.RuneCountInString(Separator)
		}
		if n > 0 && used+add > MaxTextRunes {
			break
		}
		used += add
		n++
	}
	var h, p strings.Builder
	for i, part := range parts[:n] {
		if i > 0 {
			h.WriteString(Separator)
			p.WriteString(Separator)
		}
		h.WriteString(part.HTML)
		p.WriteString(part.Plain)
	}
	return n, h.String(), p.String()
}

// Sanitize makes s valid UTF-8 and replaces control characters other than
// newline and tab, which Telegram would reject or show as garbage.
func Sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f {
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
