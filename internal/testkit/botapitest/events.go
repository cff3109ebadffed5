package botapitest

import (
	"strings"
	"unicode/utf8"
)

// EventKind classifies a delivered message by its first character as the
// chat shows it, the emoji every alertstate event starts with (never by its
// words, which depend on the language and the templates): "alert",
// "realert", "recovery", "scan_failed", "scan_recovered", "source_silent",
// "source_back", "status", and the notes "snooze" and "ack", else "other". The
// text is as sent: markup such as the bold first line is not part of what
// the chat shows.
func EventKind(text string) string {
	for strings.HasPrefix(text, "<") {
		_, rest, ok := strings.Cut(text, ">")
		if !ok {
			break
		}
		text = rest
	}
	r, _ := utf8.DecodeRuneInString(text)
	switch r {
	case '🚨':
		return "alert"
	case '🔁':
		return "realert"
	case '✅':
		return "recovery"
	case '⚠':
		return "scan_failed"
	case '🟢':
		return "scan_recovered"
	case '🔇':
		return "source_silent"
	case '📡':
		return "source_back"
	case '📋':
		return "status"
	case '🔕':
		return "snooze"
	case '✔':
		return "ack"
	default:
		return "other"
	}
}

// EventKinds lists the kinds of msgs, in order.
func EventKinds(msgs []Message) []string {
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, EventKind(m.Text))
	}
	return out
}
