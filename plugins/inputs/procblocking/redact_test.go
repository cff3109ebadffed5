package procblocking

import (
	"os"
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
		// key words that count only as a whole part of the name
		{"--pass=", "x --pass=hunter2", "x --pass=***"},
		{"DB_PASS=", "env DB_PASS=hunter2 app", "env DB_PASS=*** app"},
		{"--passphrase x", "gpg --passphrase hunter2 -d f", "gpg --passphrase *** -d f"},
		{"-pass value (openssl)", "openssl enc -pass pass:hunter2 -in f", "openssl enc -pass *** -in f"},
		{"--key=", "app --key=sk_live_abcdef123456", "app --key=***"},
		{"--access-key=", "app --access-key=abc", "app --access-key=***"},
		{"--private-key value", "app --private-key k1 run", "app --private-key *** run"},
		{"AWS_SECRET_ACCESS_KEY=", "env AWS_SECRET_ACCESS_KEY=abc aws", "env AWS_SECRET_ACCESS_KEY=*** aws"},
		{"--bypass= is kept", "x --bypass=cache", "x --bypass=cache"},
		{"--passes= is kept", "x --passes=3", "x --passes=3"},
		{"--keyword value is kept", "x --keyword value", "x --keyword value"},
		{"--monkey= is kept", "x --monkey=patch", "x --monkey=patch"},
		{"letters that fold to ASCII", "x --ſecret=abc --Key k", "x --ſecret=*** --Key ***"},
		{"tabs between arguments", "x\t--token\tabc\tTOKEN=def", "x\t--token\t***\tTOKEN=***"},
		{"empty value is kept", "x --token= y", "x --token= y"},
		// short password options of database and ssh clients
		{"mysql -p", "mysql -uroot -phunter2 db", "mysql -uroot -p*** db"},
		{"mysqldump -p", "/usr/bin/mysqldump -h db -u root -phunter2 --all-databases", "/usr/bin/mysqldump -h db -u root -p*** --all-databases"},
		{"mariadb -p", "mariadb -phunter2", "mariadb -p***"},
		{"mysql behind a wrapper", "sh -c mysql -uroot -phunter2 app < dump.sql", "sh -c mysql -uroot -p*** app < dump.sql"},
		{"mysql lone -p prompts", "mysql -p -uroot", "mysql -p -uroot"},
		{"mysql -P is the port", "mysql -P3306 -phunter2", "mysql -P3306 -p***"},
		{"-p without mysql is kept", "mkdir -pv /tmp/x", "mkdir -pv /tmp/x"},
		{"sshpass -p", "sshpass -p hunter2 ssh host", "sshpass -p *** ssh host"},
		{"sshpass -p glued", "sshpass -phunter2 ssh host", "sshpass -p*** ssh host"},
		{"redis-cli -a", "redis-cli -h cache -a hunter2 ping", "redis-cli -h cache -a *** ping"},
		// headers
		{"Authorization Bearer", "curl -H Authorization: Bearer abc123def https://api.example.com", "curl -H Authorization: Bearer *** https://api.example.com"},
		{"Authorization Basic", "curl -H Authorization: Basic dXNlcjpwYXNz https://x", "curl -H Authorization: Basic *** https://x"},
		{"Authorization token", "curl --header=Authorization:token abc https://x", "curl --header=Authorization:token *** https://x"},
		{"Proxy-Authorization", "curl -H Proxy-Authorization: Basic dXNlcjpwYXNz", "curl -H Proxy-Authorization: Basic ***"},
		{"X-Api-Key header", "curl -H X-Api-Key: k1 https://x", "curl -H X-Api-Key: *** https://x"},
		{"Private-Token header", "curl -H PRIVATE-TOKEN: glpat-x https://x", "curl -H PRIVATE-TOKEN: *** https://x"},
		{"Cookie header", "curl -H Cookie: session=abc https://x", "curl -H Cookie: *** https://x"},
		{"bare Bearer", "wget --header=Bearer abc123def", "wget --header=Bearer ***"},
		{"bare Basic", "app Basic dXNlcjpwYXNz", "app Basic ***"},
		{"Basic words are kept", "app --mode basic authentication", "app --mode basic authentication"},
		// bare tokens
		{"GitHub ghp_", "app ghp_0123456789abcdefghijABCDEFGHIJ012345 x", "app ghp_*** x"},
		{"GitHub gho_", "app gho_0123456789abcdefghijABCDEFGHIJ012345", "app gho_***"},
		{"GitHub ghs_", "app ghs_0123456789abcdefghijABCDEFGHIJ012345", "app ghs_***"},
		{"GitHub github_pat_", "app github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "app github_pat_***"},
		{"GitLab glpat-", "app glpat-0123456789abcdefghij", "app glpat-***"},
		{"Slack xoxb-", "app xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "app xoxb-***"},
		{"Slack xoxp-", "app xoxp-1234567890-1234567890-1234567890123-abcdef", "app xoxp-***"},
		{"AWS AKIA", "aws --profile x AKIAIOSFODNN7EXAMPLE s3 ls", "aws --profile x AKIA*** s3 ls"},
		{"AWS ASIA", "app ASIAIOSFODNN7EXAMPLE", "app ASIA***"},
		{"Stripe sk_live_", "app sk_live_4eC39HqLyjWDarjtT1zdp7dc", "app sk_live_***"},
		{"Stripe rk_test_", "app rk_test_4eC39HqLyjWDarjtT1zdp7dc", "app rk_test_***"},
		{"sk- key", "app sk-proj-abcdefghijklmnopqrstuvwxyz012345", "app sk-***"},
		{"Google AIza", "app AIzaSyA-0123456789abcdefghijklmnopqrstu", "app AIza***"},
		{"npm_", "app npm_0123456789abcdefghijklmnopqrstuvwxyz", "app npm_***"},
		{"JWT", "app eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U x", "app eyJ*** x"},
		{"short sk- is kept", "ssh -i disk-key host", "ssh -i disk-key host"},
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
	require.Equal(t, strings.Repeat("日本", 7)+"日…", got)
}

func TestRenderNonUTF8(t *testing.T) {
	r := newTestRedactor(t)
	got := r.render([]byte("py\xfftest\x00--token=\xfe\xff\x00\xc3\x00"))
	require.True(t, utf8.ValidString(got))
	require.Equal(t, "py\uFFFDtest --token=*** \uFFFD", got)
}

// The README lists every built-in rule, in the order they run.
func TestReadmeListsEveryRule(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	last := 0
	for _, rule := range builtinRules {
		i := strings.Index(string(readme), "| `"+rule.name+"` |")
		require.Positive(t, i, "rule %s not in the README's table", rule.name)
		require.Greater(t, i, last, "rule %s out of order", rule.name)
		last = i
	}
}

// What rendering one matched command line costs, with and without a secret:
// a command line without any rule's hint runs no regex.
func BenchmarkRender(b *testing.B) {
	for name, raw := range map[string]string{
		"no-hint": "python3\x00-m\x00pytest\x00tests/t_1.py\x00",
		"plain":   "python3\x00-m\x00pytest\x00tests/test_api.py\x00-x\x00",
		"secret":  "python3\x00-m\x00pytest\x00tests/test_api.py\x00--token=ghp_0123456789abcdefghijABCDEFGHIJ012345\x00",
	} {
		b.Run(name, func(b *testing.B) {
			r, err := newRedactor(nil, 512)
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				_ = r.render([]byte(raw))
			}
		})
	}
}
