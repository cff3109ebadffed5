package procblocking

import (
	"bytes"
	"fmt"
	"regexp"
)

// matcher finds the first configured pattern a command line matches. It works
// on bytes so that testing a process that does not match allocates nothing.
type matcher struct {
	// names are what the pattern tag shows, one per pattern, in order.
	names []string
	// Per pattern, either a substring or a regex; the other is nil.
	literals [][]byte
	regexes  []*regexp.Regexp
	// regexMaxBytes bounds the part of a command line a regex looks at, so
	// that a hostile command line of a few MiB cannot slow the scan.
	regexMaxBytes int
}

// newMatcher compiles the plain patterns (all of patternType) followed by
// the named ones, in the order the config lists them.
func newMatcher(plain []string, patternType string, named []namedPattern, regexMaxBytes int) (*matcher, error) {
	if patternType != "substring" && patternType != "regex" {
		return nil, fmt.Errorf("invalid 'pattern_type' %q: want \"substring\" or \"regex\"", patternType)
	}
	if len(plain) == 0 && len(named) == 0 {
		return nil, fmt.Errorf("invalid 'patterns' %q: nothing to match; list at least one pattern, "+
			"or leave 'patterns' out to watch the default \"pytest\" pattern", "[]")
	}
	m := &matcher{regexMaxBytes: regexMaxBytes}
	for _, p := range plain {
		if p == "" {
			return nil, fmt.Errorf("invalid 'patterns' %q: empty pattern", p)
		}
		if patternType == "substring" {
			m.add(p, []byte(p), nil)
			continue
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("invalid 'patterns' %q: %w", p, err)
		}
		m.add(p, nil, re)
	}
	for _, p := range named {
		if p.Name == "" {
			return nil, fmt.Errorf("invalid 'pattern.name' %q: every [[inputs.procblocking.pattern]] needs a name", p.Name)
		}
		switch {
		case (p.Regex == "") == (p.Substring == ""):
			return nil, fmt.Errorf("invalid 'pattern' %q: give it either a non-empty regex or a non-empty substring", p.Name)
		case p.Substring != "":
			m.add(p.Name, []byte(p.Substring), nil)
		default:
			re, err := regexp.Compile(p.Regex)
			if err != nil {
				return nil, fmt.Errorf("invalid 'pattern.regex' %q: %w", p.Regex, err)
			}
			m.add(p.Name, nil, re)
		}
	}
	return m, nil
}

func (m *matcher) add(name string, literal []byte, re *regexp.Regexp) {
	m.names = append(m.names, name)
	m.literals = append(m.literals, literal)
	m.regexes = append(m.regexes, re)
}

// match returns the index of the first pattern found in cmdline, or -1.
// A substring is looked for in the whole command line; a regex sees at most
// regexMaxBytes of it, cut after the last whole argument that fits.
func (m *matcher) match(cmdline []byte) int {
	if len(cmdline) == 0 {
		// Kernel threads and zombies have no command line to judge.
		return -1
	}
	head := cmdline
	if len(head) > m.regexMaxBytes {
		head = head[:m.regexMaxBytes]
		if cmdline[m.regexMaxBytes] != ' ' {
			if i := bytes.LastIndexByte(head, ' '); i > 0 {
				head = head[:i]
			}
		}
	}
	for i, lit := range m.literals {
		if lit != nil {
			if bytes.Contains(cmdline, lit) {
				return i
			}
		} else if m.regexes[i].Match(head) {
			return i
		}
	}
	return -1
}
