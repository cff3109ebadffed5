package redact

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The name of an option, variable or header carries a secret when it holds
// one of secretWords anywhere (DB_PASSWORD, --client-secret, X-Auth-Token),
// or one of secretParts as a whole part between '-', '_' and '.' (--pass,
// DB_PASS, --key, --access-key; not --bypass or --keyword). Case does not
// matter. A name that says the secret is elsewhere or asked for carries
// none: its last part is one of elsewhereParts (--password-stdin,
// --password-file, DB_PASSWORD_FILE, --token-env) or its first one of
// askParts (--ask-pass, --no-password).
var (
	secretWords = []string{"password", "passwd", "pwd", "token", "secret", "apikey", "api-key", "api_key", "credential", "auth"}
	secretParts = []string{"pass", "passphrase", "key"}
	// elsewhereParts and askParts end and start names that carry no secret.
	elsewhereParts = []string{"stdin", "file", "fd", "env", "prompt"}
	askParts       = []string{"ask", "no"}
	// secretNameHints are the substrings one of which every secret name holds.
	secretNameHints = []string{"pass", "pwd", "token", "secret", "api", "credential", "auth", "key"}
)

func isSecretName(name string) bool {
	folded := foldName(name)
	parts := strings.FieldsFunc(folded, func(r rune) bool { return r == '-' || r == '_' || r == '.' })
	if len(parts) > 1 && (slices.Contains(elsewhereParts, parts[len(parts)-1]) || slices.Contains(askParts, parts[0])) {
		return false
	}
	for _, w := range secretWords {
		if strings.Contains(folded, w) {
			return true
		}
	}
	for _, part := range parts {
		if slices.Contains(secretParts, part) {
			return true
		}
	}
	return false
}

// foldName lowers ASCII letters and maps any other letter whose case folds
// to an ASCII one (U+017F ſ to s, U+212A K to k) to that letter, so that a
// name matches as it would under a (?i) regex.
func foldName(name string) string {
	ascii := true
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(name)
	}
	return strings.Map(func(r rune) rune {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < utf8.RuneSelf {
				return unicode.ToLower(f)
			}
		}
		return unicode.ToLower(r)
	}, name)
}

// isArgSpace is what separates arguments in a joined command line, as \s
// does in a regex.
func isArgSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// nextArg returns the bounds of the first argument of s at or after from,
// or start == len(s) when there is none.
func nextArg(s string, from int) (start, end int) {
	start = from
	for start < len(s) && isArgSpace(s[start]) {
		start++
	}
	end = start
	for end < len(s) && !isArgSpace(s[end]) {
		end++
	}
	return start, end
}

// maskKeyValues masks the value of every NAME=VALUE argument whose NAME
// names a secret: --password=x, TOKEN=x.
func maskKeyValues(s string) string {
	var out strings.Builder
	done := 0
	for start, end := nextArg(s, 0); start < len(s); start, end = nextArg(s, end) {
		arg := s[start:end]
		eq := strings.IndexByte(arg, '=')
		if eq <= 0 || eq == len(arg)-1 || !isSecretName(arg[:eq]) {
			continue
		}
		out.WriteString(s[done : start+eq+1])
		out.WriteString(Mask)
		done = end
	}
	if done == 0 {
		return s
	}
	out.WriteString(s[done:])
	return out.String()
}

// maskOptionArguments masks the argument after every option that names a
// secret (--token x, -password x), unless that argument is an option itself.
func maskOptionArguments(s string) string {
	m := argMasker{s: s}
	for start, end := nextArg(s, 0); start < len(s); start, end = nextArg(s, end) {
		arg := s[start:end]
		if arg[0] != '-' || strings.IndexByte(arg, '=') >= 0 || !isSecretName(arg) {
			continue
		}
		if valEnd, ok := m.maskArgAfter(end); ok {
			end = valEnd
		}
	}
	return m.result()
}

// argMasker copies a command line with some of its arguments masked, in
// order; nothing is copied (or allocated) until one is.
type argMasker struct {
	s    string
	out  strings.Builder
	done int // s[:done] is in out
}

// maskArgAfter masks the argument after position from, unless there is
// none or it is an option itself, and returns its end.
func (m *argMasker) maskArgAfter(from int) (int, bool) {
	valStart, valEnd := nextArg(m.s, from)
	if valStart == len(m.s) || m.s[valStart] == '-' {
		return from, false
	}
	m.out.WriteString(m.s[m.done:valStart])
	m.out.WriteString(Mask)
	m.done = valEnd
	return valEnd, true
}

// result is the command line with the masks, or s itself when none.
func (m *argMasker) result() string {
	if m.done == 0 {
		return m.s
	}
	m.out.WriteString(m.s[m.done:])
	return m.out.String()
}
