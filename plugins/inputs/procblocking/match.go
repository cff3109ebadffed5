package procblocking

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
)

// matcher finds the first configured pattern a command line matches. It works
// on bytes so that testing a process that does not match allocates nothing.
type matcher struct {
	patterns []string
	literal  [][]byte
	regexes  []*regexp.Regexp
}

func newMatcher(patterns []string, patternType string) (*matcher, error) {
	if len(patterns) == 0 {
		return nil, errors.New("invalid 'patterns': at least one pattern is required")
	}
	m := &matcher{patterns: patterns}
	for i, p := range patterns {
		if p == "" {
			return nil, fmt.Errorf("invalid 'patterns' entry %d %q: empty pattern", i, p)
		}
		switch patternType {
		case "", "substring":
			m.literal = append(m.literal, []byte(p))
		case "regex":
			re, err := regexp.Compile(p)
			if err != nil {
				return nil, fmt.Errorf("invalid 'patterns' entry %d %q: %w", i, p, err)
			}
			m.regexes = append(m.regexes, re)
		default:
			return nil, fmt.Errorf("invalid 'pattern_type' %q: want \"substring\" or \"regex\"", patternType)
		}
	}
	return m, nil
}

// match returns the index of the first pattern found in cmdline, or -1.
func (m *matcher) match(cmdline []byte) int {
	if len(cmdline) == 0 {
		// Kernel threads and zombies have no command line to judge.
		return -1
	}
	for i, l := range m.literal {
		if bytes.Contains(cmdline, l) {
			return i
		}
	}
	for i, re := range m.regexes {
		if re.Match(cmdline) {
			return i
		}
	}
	return -1
}
