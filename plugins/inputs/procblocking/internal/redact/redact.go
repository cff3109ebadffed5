// Package redact masks secrets in a command line before it leaves the
// procblocking input: passwords, tokens and keys in options, variables,
// URLs, headers and the known shapes of tokens, by built-in rules (rules.go)
// and the user's regexes.
package redact

import (
	"bytes"
	"fmt"
	"regexp"
	"unicode/utf8"
)

// Mask replaces each masked value.
const Mask = "***"

// Redactor masks secrets in command lines. It keeps a scratch buffer, so one
// Redactor serves one goroutine.
type Redactor struct {
	custom []*regexp.Regexp
	lower  []byte
}

// New returns a Redactor that applies the built-in rules, then the custom
// regexes (the input's `redact` option), each match of which is masked.
func New(custom []string) (*Redactor, error) {
	r := &Redactor{}
	for _, expr := range custom {
		if expr == "" {
			return nil, fmt.Errorf("invalid 'redact' %q: empty regex", expr)
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("invalid 'redact' %q: %w", expr, err)
		}
		r.custom = append(r.custom, re)
	}
	return r, nil
}

// Redact masks secrets in a valid UTF-8 command line whose arguments are
// joined by spaces: built-in rules first, then the custom ones.
func (r *Redactor) Redact(cmdline string) string {
	lower, ascii := r.lowerASCII(cmdline)
	for i := range builtinRules {
		rule := &builtinRules[i]
		// Non-ASCII text always goes to the rules: (?i) folds letters such
		// as U+017F or U+212A to 's' and 'k', which no hint would show.
		if ascii && (!containsAny(lower, rule.hints) || rule.needs != 0 && bytes.IndexByte(lower, rule.needs) < 0) {
			continue
		}
		cmdline = rule.apply(cmdline)
	}
	for _, re := range r.custom {
		cmdline = re.ReplaceAllLiteralString(cmdline, Mask)
	}
	return cmdline
}

// lowerASCII lowers s into the scratch buffer, and says whether s is all
// ASCII.
func (r *Redactor) lowerASCII(s string) ([]byte, bool) {
	b := r.lower[:0]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			r.lower = b
			return nil, false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	r.lower = b
	return b, true
}

func containsAny(s []byte, words [][]byte) bool {
	for _, w := range words {
		if bytes.Contains(s, w) {
			return true
		}
	}
	return false
}
