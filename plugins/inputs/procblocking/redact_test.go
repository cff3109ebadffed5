package procblocking

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func newTestRedactor(t *testing.T, custom ...string) *redactor {
	t.Helper()
	r, err := newRedactor(custom, 512)
	require.NoError(t, err)
	return r
}

// One case per built-in rule and per key word.
func TestRedactBuiltinRules(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		// key-value: --key=value, -key=value, KEY=value
		{"--password=", "app --password=hunter2 run", "app --password=*** run"},
		{"--passwd=", "app --passwd=hunter2", "app --passwd=***"},
		{"--pwd=", "mysql --pwd=hunter2", "mysql --pwd=***"},
		{"--token=", "pytest --token=ghp_abc123", "pytest --token=***"},
		{"--secret=", "x --client-secret=s3", "x --client-secret=***"},
		{"--api-key=", "x --api-key=k1", "x --api-key=***"},
		{"--apikey=", "x --apikey=k1", "x --apikey=***"},
		{"--api_key=", "x --api_key=k1", "x --api_key=***"},
		{"--credential=", "x --credential=c1", "x --credential=***"},
		{"--credentials=", "x --credentials=c1", "x --credentials=***"},
		{"--auth=", "x --auth=user:pw", "x --auth=***"},
		{"-token=", "x -token=abc", "x -token=***"},
		{"TOKEN=", "env TOKEN=abc pytest", "env TOKEN=*** pytest"},
		{"DB_PASSWORD=", "env DB_PASSWORD=abc pytest", "env DB_PASSWORD=*** pytest"},
		{"PGPASSWORD=", "PGPASSWORD=abc psql", "PGPASSWORD=*** psql"},
		{"case-insensitive", "x --Api-Key=K", "x --Api-Key=***"},
		{"value with '='", "x --token=a=b=c", "x --token=***"},
		// option-argument: --key value
		{"--password value", "app --password hunter2 run", "app --password *** run"},
		{"--token value", "pytest --token ghp_abc123 tests/", "pytest --token *** tests/"},
		{"-secret value", "x -secret s3", "x -secret ***"},
		{"--auth-token value", "x --auth-token t1 --verbose", "x --auth-token *** --verbose"},
		{"--api-key value", "x --api-key k1", "x --api-key ***"},
		{"option after secret option is kept", "x --auth --verbose", "x --auth --verbose"},
		{"two in a row", "x --token a --password b", "x --token *** --password ***"},
		// URL userinfo
		{"url user:password", "git clone https://bob:hunter2@git.example.com/r.git", "git clone https://bob:***@git.example.com/r.git"},
		{"url token only", "git clone https://ghp_abc@github.com/r.git", "git clone https://***@github.com/r.git"},
		{"url with '@' in password", "psql postgres://u:p@ss@db:5432/x", "psql postgres://u:***@db:5432/x"},
		{"url empty password", "x redis://:pw@cache:6379", "x redis://:***@cache:6379"},
		// nothing to mask
		{"no secret", "python3 -m pytest tests/test_auth.py -k token", "python3 -m pytest tests/test_auth.py -k token"},
		{"plain url", "curl https://example.com/a@b", "curl https://example.com/a@b"},
	}
	r := newTestRedactor(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, r.redact(tt.in))
		})
	}
}

func TestRedactCustom(t *testing.T) {
	r := newTestRedactor(t, `sk-[A-Za-z0-9]+`, `(?i)bearer \S+`)
	require.Equal(t, "x --key *** -H ***", r.redact("x --key sk-abc123 -H Bearer xyz"))
}

func TestRenderRedactsBeforeTruncating(t *testing.T) {
	r, err := newRedactor(nil, 20)
	require.NoError(t, err)
	// Cut first, the secret's head would survive: "x --token=hunter2hun".
	require.Equal(t, "x --token=*** y", r.render([]byte("x\x00--token=hunter2hunter2\x00y\x00")))
}

func TestRenderLongCmdline(t *testing.T) {
	r := newTestRedactor(t)
	raw := []byte("python3\x00-m\x00pytest\x00" + strings.Repeat("tests/test_é.py\x00", 100_000/len("tests/test_é.py ")+1))
	require.Greater(t, len(raw), 100_000)
	got := r.render(raw)
	require.Equal(t, 512, utf8.RuneCountInString(got))
	require.True(t, utf8.ValidString(got))
	require.True(t, strings.HasPrefix(got, "python3 -m pytest tests/test_é.py tests/"))
}

func TestRenderCutsOnCharacterBoundary(t *testing.T) {
	r, err := newRedactor(nil, 16)
	require.NoError(t, err)
	got := r.render([]byte(strings.Repeat("日本", 20)))
	require.Equal(t, strings.Repeat("日本", 8), got)
}

func TestRenderNonUTF8(t *testing.T) {
	r := newTestRedactor(t)
	got := r.render([]byte("py\xfftest\x00--token=\xfe\xff\x00\xc3\x00"))
	require.True(t, utf8.ValidString(got))
	require.Equal(t, "py\uFFFDtest --token=*** \uFFFD", got)
}

func TestTruncateRunes(t *testing.T) {
	require.Equal(t, "abc", truncateRunes("abc", 16))
	require.Equal(t, "ab", truncateRunes("abc", 2))
	require.Equal(t, "é", truncateRunes("éé", 1))
}
