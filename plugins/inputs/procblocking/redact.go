package procblocking

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

const mask = "***"

// secretKey matches the name of an option or variable that carries a secret.
const secretKey = `[^\s=]*(?:passw(?:or)?d|pwd|token|secret|api[-_]?key|credentials?|auth)[^\s=]*`

// secretHints are substrings at least one of which every built-in rule needs
// to match: a URL's "://" or the start of a word of secretKey. Most command
// lines hold none, and checking for them is far cheaper than the four
// case-insensitive regexes.
var secretHints = []string{"://", "passw", "pwd", "token", "secret", "api", "credential", "auth"}

// builtinRules mask secrets in a command line whose arguments are joined by
// spaces. Each keeps the name and replaces the value with the mask.
var builtinRules = []struct {
	name string
	re   *regexp.Regexp
	repl string
}{
	// https://user:pw@host -> https://user:***@host; the password runs to the
	// last '@' of the authority, since unescaped '@' occur in real passwords.
	{"url-userinfo", regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://)([^\s/:@]*):[^\s/]*@`), "${1}${2}:" + mask + "@"},
	// https://token@host -> https://***@host
	{"url-user", regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://)[^\s/:]+@`), "${1}" + mask + "@"},
	// --password=x, -token=x, DB_PASSWORD=x, TOKEN=x
	{"key-value", regexp.MustCompile(`(?i)(^|\s)(-{0,2}` + secretKey + `=)\S+`), "${1}${2}" + mask},
	// --token x, -password x: the next argument, unless it is an option itself.
	{"option-argument", regexp.MustCompile(`(?i)(^|\s)(--?` + secretKey + `\s+)[^-\s]\S*`), "${1}${2}" + mask},
}

// redactor masks secrets in a command line, then cuts it to a length.
type redactor struct {
	custom    []*regexp.Regexp
	maxLength int
}

func newRedactor(custom []string, maxLength int) (*redactor, error) {
	if maxLength < 16 {
		return nil, fmt.Errorf("invalid 'cmdline_max_length' %d: want at least 16", maxLength)
	}
	r := &redactor{maxLength: maxLength}
	for i, expr := range custom {
		if expr == "" {
			return nil, fmt.Errorf("invalid 'redact' entry %d %q: empty regex", i, expr)
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("invalid 'redact' entry %d %q: %w", i, expr, err)
		}
		r.custom = append(r.custom, re)
	}
	return r, nil
}

// redact masks secrets in a valid UTF-8 command line: built-in rules first,
// then the custom ones.
func (r *redactor) redact(cmdline string) string {
	if mayHoldSecret(cmdline) {
		for _, rule := range builtinRules {
			cmdline = rule.re.ReplaceAllString(cmdline, rule.repl)
		}
	}
	for _, re := range r.custom {
		cmdline = re.ReplaceAllLiteralString(cmdline, mask)
	}
	return cmdline
}

// render turns raw /proc/<pid>/cmdline bytes into the reported field:
// joined, made valid UTF-8, redacted, then truncated on a character boundary.
func (r *redactor) render(raw []byte) string {
	return truncateRunes(r.redact(joinCmdline(raw)), r.maxLength)
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	count := 0
	for i := range s {
		if count == n {
			return strings.Clone(s[:i])
		}
		count++
	}
	return s
}

// mayHoldSecret reports whether a built-in rule could match. Non-ASCII text
// always goes to the regexes: their (?i) folds letters such as U+017F to 's'.
func mayHoldSecret(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return true
		}
	}
	for _, hint := range secretHints {
		if containsFoldASCII(s, hint) {
			return true
		}
	}
	return false
}

// containsFoldASCII is strings.Contains ignoring ASCII case, without the
// allocation of lowering the haystack.
func containsFoldASCII(s, substr string) bool {
	for i := 0; i+len(substr) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(substr)], substr) {
			return true
		}
	}
	return false
}
