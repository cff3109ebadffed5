package procblocking

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func newTestMatcher(t *testing.T, plain []string, patternType string, named ...namedPattern) *matcher {
	t.Helper()
	m, err := newMatcher(plain, patternType, named, 4096)
	require.NoError(t, err)
	return m
}

func TestMatcher(t *testing.T) {
	m := newTestMatcher(t, []string{"pytest", "coverage run"}, "substring")
	require.Equal(t, 0, m.match([]byte("python3 -m pytest tests/")))
	require.Equal(t, 1, m.match([]byte("python3 -m coverage run -m x")))
	require.Equal(t, 0, m.match([]byte("coverage run -m pytest")), "the first pattern wins")
	require.Equal(t, -1, m.match([]byte("claude --model claude-opus-4-8 -p ...")))
	require.Equal(t, -1, m.match(nil))

	m = newTestMatcher(t, []string{`^python3? -m pytest\b`}, "regex")
	require.Equal(t, 0, m.match([]byte("python -m pytest -x")))
	require.Equal(t, -1, m.match([]byte("echo python -m pytest")))
}

// Named patterns come after the plain ones, each a regex or a substring, and
// the tag shows the name.
func TestMatcherNamedPatterns(t *testing.T) {
	m := newTestMatcher(t, []string{"tests/x.py"}, "substring",
		namedPattern{Name: "pytest", Regex: pytestRegex},
		namedPattern{Name: "workers", Substring: "celery worker"},
		namedPattern{Name: "pytest", Substring: "pytest-watch"},
	)
	require.Equal(t, []string{"tests/x.py", "pytest", "workers", "pytest"}, m.names)
	for cmdline, want := range map[string]int{
		"python3 -m pytest tests/x.py": 0,
		"python3 -m pytest tests/y.py": 1,
		"celery worker -A proj":        2,
		"/usr/bin/pytest-watch":        3,
		"grep pytest":                  -1,
	} {
		require.Equal(t, want, m.match([]byte(cmdline)), cmdline)
	}
}

// The default pattern matches pytest however it is started, and none of the
// look-alikes a substring would catch.
func TestDefaultPattern(t *testing.T) {
	m := newTestMatcher(t, nil, "substring", defaultPatterns()...)
	tests := []struct {
		cmdline string
		match   bool
	}{
		{"pytest", true},
		{"pytest tests/test_api.py -x", true},
		{"py.test -q", true},
		{"pytest-3 tests", true},
		{"/usr/bin/pytest -q tests", true},
		{".venv/bin/pytest tests", true},
		{"/home/ci/.venv/bin/pytest -n 4", true},
		{"python -m pytest", true},
		{"python -m pytest tests/", true},
		{"python3 -m pytest tests/test_x.py", true},
		{"python3.12 -m pytest -x", true},
		{"/usr/bin/python3.12 -m pytest", true},
		{"python3 -u -X dev -W error -m pytest tests", true},
		{"python3 -mpytest", true},
		{"python -m py.test", true},
		{"pypy3 -m pytest", true},
		{"python /path/to/pytest tests", true},
		{"python3 .venv/bin/pytest -x", true},
		// How the kernel runs /usr/bin/pytest, a script with a #! line.
		{"/usr/bin/python3 /usr/bin/pytest tests", true},
		{"/home/ci/.venv/bin/python /home/ci/.venv/bin/py.test", true},

		{"grep pytest", false},
		{"grep -rn pytest .", false},
		{"rg pytest src", false},
		{"vim tests/test_pytest.py", false},
		{"vim pytest.ini", false},
		{"nano test_pytest.py", false},
		{"less /var/log/pytest.log", false},
		{"python3 tests/test_pytest.py", false},
		{"python3 -m pytest_cov", false},
		{"python -c import pytest; pytest.main()", false},
		{"python3 manage.py test", false},
		{"/usr/bin/pytest-watch", false},
		// The agent's own command lines.
		{"/usr/local/bin/telegraf-procblocking --config /etc/procblocking/pytest.conf", false},
		{"procblocking-execd --config /etc/procblocking/input.conf", false},
		{"telegraf --config telegraf.conf --test", false},
		// Wrappers: their pytest child is the match.
		{"bash -c cd repo && pytest -x", false},
		{"timeout 600 python -m pytest", false},
	}
	for _, tt := range tests {
		t.Run(tt.cmdline, func(t *testing.T) {
			got := m.match([]byte(tt.cmdline))
			if tt.match {
				require.Equal(t, 0, got)
			} else {
				require.Equal(t, -1, got)
			}
		})
	}
}

// A regex sees regex_max_bytes of the command line at most, cut after the
// last whole argument that fits; a substring sees all of it.
func TestRegexMaxBytes(t *testing.T) {
	long := "python3 -m pytest " + strings.Repeat("tests/test_a.py ", 400) + "--marker-far-away"
	require.Greater(t, len(long), 4096)
	m, err := newMatcher(nil, "substring", []namedPattern{
		{Name: "far-regex", Regex: `--marker-far-away`},
		{Name: "far-substring", Substring: "--marker-far-away"},
	}, 4096)
	require.NoError(t, err)
	require.Equal(t, 1, m.match([]byte(long)), "the regex must not see past 4096 bytes")

	m, err = newMatcher(nil, "substring", []namedPattern{{Name: "far", Regex: `--marker-far-away`}}, len(long))
	require.NoError(t, err)
	require.Equal(t, 0, m.match([]byte(long)), "within the bound the regex sees it")

	// The cut falls inside "pytest_plugin": a regex must not see "pytest" end
	// the command line there.
	cut := "python3 -m pytest_plugin"
	m, err = newMatcher(nil, "substring", []namedPattern{{Name: "pytest", Regex: `-m pytest( |$)`}}, len(cut)-len("_plugin"))
	require.NoError(t, err)
	require.Equal(t, -1, m.match([]byte(cut+" -x")))
	// An argument that ends exactly at the bound is whole.
	m, err = newMatcher(nil, "substring", []namedPattern{{Name: "pytest", Regex: `-m pytest( |$)`}}, len("python3 -m pytest"))
	require.NoError(t, err)
	require.Equal(t, 0, m.match([]byte("python3 -m pytest -x")))
}
