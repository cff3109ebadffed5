package procblocking

import (
	"bytes"
	"fmt"
	"regexp"
	"unicode/utf8"

	"github.com/procblocking/procblocking/internal/textutil"
)

const mask = "***"

// rule is one built-in redaction rule. It runs only on a command line that
// holds one of its hints (ASCII, case-insensitive): most command lines hold
// none, and looking for them is far cheaper than running the regexes.
type rule struct {
	name  string
	hints [][]byte
	// needs, when set, is a byte the rule cannot match without.
	needs byte
	re    *regexp.Regexp
	repl  string
	// program, when set, limits the rule to what follows the first
	// occurrence of a program in the command line (a wrapper such as sudo,
	// env or sh -c may come before it).
	program *regexp.Regexp
	// mask, when set, is the rule instead of re and repl.
	mask func(string) string
}

func (r *rule) apply(s string) string {
	if r.mask != nil {
		return r.mask(s)
	}
	if r.program == nil {
		return r.re.ReplaceAllString(s, r.repl)
	}
	loc := r.program.FindStringIndex(s)
	if loc == nil {
		return s
	}
	rest := r.re.ReplaceAllString(s[loc[1]:], r.repl)
	if rest == s[loc[1]:] {
		return s
	}
	return s[:loc[1]] + rest
}

func hints(words ...string) [][]byte {
	out := make([][]byte, len(words))
	for i, w := range words {
		out[i] = []byte(w)
	}
	return out
}

// builtinRules mask secrets in a command line whose arguments are joined by
// spaces. Each keeps the name, option or token prefix, and replaces the value
// with the mask. The token shapes are those secret scanners (gitleaks, GitHub
// secret scanning) recognise.
var builtinRules = []rule{
	// The rules run in this order: the generic key rules at the end could
	// mask what a specific rule needs to see ("--auth mysql -pX",
	// "--auth Bearer X"), never the other way round.
	// mysql -phunter2, mysqldump -uroot -phunter2, mariadb -phunter2: the
	// password glued to -p (a lone -p prompts for it; -P is the port).
	{
		name:    "mysql-short-password",
		hints:   hints("mysql", "mariadb"),
		program: regexp.MustCompile(`(?:^|[\s/])(?:mysql|mariadb)[\w-]*\b`),
		re:      regexp.MustCompile(`(\s-p)\S+`),
		repl:    "${1}" + mask,
	},
	// sshpass -p hunter2, sshpass -phunter2
	{
		name:    "sshpass-password",
		hints:   hints("sshpass"),
		program: regexp.MustCompile(`(?:^|[\s/])sshpass\b`),
		re:      regexp.MustCompile(`(\s-p\s*)\S+`),
		repl:    "${1}" + mask,
	},
	// redis-cli -a hunter2
	{
		name:    "redis-cli-password",
		hints:   hints("redis-cli"),
		program: regexp.MustCompile(`(?:^|[\s/])redis-cli\b`),
		re:      regexp.MustCompile(`(\s-a\s*)\S+`),
		repl:    "${1}" + mask,
	},
	// https://user:pw@host -> https://user:***@host; the password runs to the
	// last '@' of the authority, since unescaped '@' occur in real passwords.
	{
		name:  "url-userinfo",
		hints: hints("://"),
		re:    regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://)([^\s/:@]*):[^\s/]*@`),
		repl:  "${1}${2}:" + mask + "@",
	},
	// https://token@host -> https://***@host
	{
		name:  "url-user",
		hints: hints("://"),
		re:    regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://)[^\s/:]+@`),
		repl:  "${1}" + mask + "@",
	},
	// Authorization: Bearer x, Proxy-Authorization: Basic x -> the scheme is
	// kept, the credentials masked.
	{
		name:  "authorization-header",
		hints: hints("authorization"),
		needs: ':',
		re:    regexp.MustCompile(`(?i)(\b(?:proxy-)?authorization:\s*(?:(?:bearer|basic|token|digest|negotiate|bot)\s+)?)\S+`),
		repl:  "${1}" + mask,
	},
	// X-Api-Key: x, X-Auth-Token: x, Private-Token: x, Cookie: x
	{
		name:  "secret-header",
		hints: hints("cookie", "token", "secret", "api", "passw"),
		needs: ':',
		re:    regexp.MustCompile(`(?i)(\b(?:cookie|[\w-]*(?:token|secret|api-?key|passw(?:or)?d)[\w-]*):\s*)\S+`),
		repl:  "${1}" + mask,
	},
	// Bearer x, anywhere (a header given as --header=Bearer x, a variable).
	{
		name:  "bearer",
		hints: hints("bearer"),
		re:    regexp.MustCompile(`(?i)(\bbearer\s+)\S+`),
		repl:  "${1}" + mask,
	},
	// Basic dXNlcjpwYXNz, anywhere: only a base64 value, so that the words
	// of "basic authentication" stay.
	{
		name:  "basic",
		hints: hints("basic"),
		re:    regexp.MustCompile(`(?i)(\bbasic\s+)(?:[a-z0-9+/]{4})+(?:[a-z0-9+/]{2}==|[a-z0-9+/]{3}=)?(\s|$)`),
		repl:  "${1}" + mask + "${2}",
	},
	// GitHub tokens: ghp_ (personal), gho_ (OAuth), ghu_/ghs_ (app), ghr_
	// (refresh), github_pat_ (fine-grained).
	{
		name:  "github-token",
		hints: hints("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
		re:    regexp.MustCompile(`\b(gh[pousr]_|github_pat_)[0-9A-Za-z_]{20,}`),
		repl:  "${1}" + mask,
	},
	// GitLab personal access tokens.
	{
		name:  "gitlab-token",
		hints: hints("glpat-"),
		re:    regexp.MustCompile(`\b(glpat-)[0-9A-Za-z_-]{20,}`),
		repl:  "${1}" + mask,
	},
	// Slack tokens: xoxb- (bot), xoxp- (user), xoxa-, xoxe-, xoxo-, xoxr-, xoxs-.
	{
		name:  "slack-token",
		hints: hints("xox"),
		re:    regexp.MustCompile(`\b(xox[abeoprs]-)[0-9A-Za-z-]{10,}`),
		repl:  "${1}" + mask,
	},
	// AWS access key ids: AKIA (long-term), ASIA (temporary), ABIA, ACCA, A3T.
	{
		name:  "aws-access-key-id",
		hints: hints("akia", "asia", "abia", "acca", "a3t"),
		re:    regexp.MustCompile(`\b(A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b`),
		repl:  "${1}" + mask,
	},
	// Stripe secret and restricted keys: sk_live_, sk_test_, rk_live_, ...
	{
		name:  "stripe-key",
		hints: hints("sk_", "rk_"),
		re:    regexp.MustCompile(`\b((?:sk|rk)_(?:live|test|prod)_)[0-9A-Za-z]{10,}`),
		repl:  "${1}" + mask,
	},
	// sk-... API keys (OpenAI, Anthropic and others): sk-, sk-proj-, sk-ant-.
	{
		name:  "sk-api-key",
		hints: hints("sk-"),
		re:    regexp.MustCompile(`\b(sk-)[0-9A-Za-z_-]{20,}`),
		repl:  "${1}" + mask,
	},
	// Google API keys.
	{
		name:  "google-api-key",
		hints: hints("aiza"),
		re:    regexp.MustCompile(`\b(AIza)[0-9A-Za-z_-]{35}`),
		repl:  "${1}" + mask,
	},
	// npm access tokens.
	{
		name:  "npm-token",
		hints: hints("npm_"),
		re:    regexp.MustCompile(`\b(npm_)[0-9A-Za-z]{36}`),
		repl:  "${1}" + mask,
	},
	// JSON Web Tokens: a base64url header and payload, both JSON objects
	// ("eyJ" is the encoding of `{"`), and a signature.
	{
		name:  "jwt",
		hints: hints("eyj"),
		re:    regexp.MustCompile(`\b(eyJ)[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]*`),
		repl:  "${1}" + mask,
	},
	// Last, the generic rules on names, as code rather than regexes: their
	// words (api, auth, key, token) are common in test file names, so they
	// run often, and a pass over the arguments is far cheaper.
	// --password=x, -token=x, --pass=x, --key=x, DB_PASSWORD=x, TOKEN=x
	{
		name:  "key-value",
		hints: hints(secretNameHints...),
		needs: '=',
		mask:  maskKeyValues,
	},
	// --token x, -password x, --key x: the next argument, unless it is an
	// option itself.
	{
		name:  "option-argument",
		hints: hints(secretNameHints...),
		needs: '-',
		mask:  maskOptionArguments,
	},
}

// redactor masks secrets in a command line, then cuts it to a length. It
// keeps a scratch buffer, so one redactor serves one goroutine.
type redactor struct {
	custom    []*regexp.Regexp
	maxLength int
	lower     []byte
}

func newRedactor(custom []string, maxLength int) (*redactor, error) {
	if maxLength < 16 {
		return nil, fmt.Errorf("invalid 'cmdline_max_length' \"%d\": want at least 16", maxLength)
	}
	r := &redactor{maxLength: maxLength}
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

// redact masks secrets in a valid UTF-8 command line: built-in rules first,
// then the custom ones.
func (r *redactor) redact(cmdline string) string {
	lower, ascii := r.lowerASCII(cmdline)
	for i := range builtinRules {
		rule := &builtinRules[i]
		// Non-ASCII text always goes to the regexes: (?i) folds letters such
		// as U+017F or U+212A to 's' and 'k', which no hint would show.
		if ascii && (!containsAny(lower, rule.hints) || rule.needs != 0 && bytes.IndexByte(lower, rule.needs) < 0) {
			continue
		}
		cmdline = rule.apply(cmdline)
	}
	for _, re := range r.custom {
		cmdline = re.ReplaceAllLiteralString(cmdline, mask)
	}
	return cmdline
}

// lowerASCII lowers s into the scratch buffer, and says whether s is all
// ASCII.
func (r *redactor) lowerASCII(s string) ([]byte, bool) {
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

// render turns raw /proc/<pid>/cmdline bytes into the reported field:
// joined, made valid UTF-8, redacted, then truncated on a character boundary.
func (r *redactor) render(raw []byte) string {
	return textutil.Truncate(r.redact(joinCmdline(raw)), r.maxLength)
}
