package redact

import (
	"regexp"
	"strings"
)

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
	// program, when set, limits the rule to what follows a program in the
	// command line (a wrapper such as sudo, env or sh -c may come before
	// it); re then sees, for each run of the program, what follows it up to
	// the next run.
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
	// Each run of the program (a wrapper may run it twice) covers what
	// follows it up to the next.
	locs := r.program.FindAllStringIndex(s, -1)
	if locs == nil {
		return s
	}
	var b strings.Builder
	changed := false
	b.WriteString(s[:locs[0][1]])
	for i, loc := range locs {
		end := len(s)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		part := s[loc[1]:end]
		masked := r.re.ReplaceAllString(part, r.repl)
		changed = changed || masked != part
		b.WriteString(masked)
		if i+1 < len(locs) {
			b.WriteString(s[locs[i+1][0]:locs[i+1][1]])
		}
	}
	if !changed {
		return s
	}
	return b.String()
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
		repl:    "${1}" + Mask,
	},
	// sshpass -p hunter2, sshpass -phunter2
	{
		name:    "sshpass-password",
		hints:   hints("sshpass"),
		program: regexp.MustCompile(`(?:^|[\s/])sshpass\b`),
		re:      regexp.MustCompile(`(\s-p\s*)\S+`),
		repl:    "${1}" + Mask,
	},
	// redis-cli -a hunter2
	{
		name:    "redis-cli-password",
		hints:   hints("redis-cli"),
		program: regexp.MustCompile(`(?:^|[\s/])redis-cli\b`),
		re:      regexp.MustCompile(`(\s-a\s*)\S+`),
		repl:    "${1}" + Mask,
	},
	// curl -u admin:pw, --user admin:pw, -U/--proxy-user (the proxy's):
	// the password after the first ':' (without one, curl prompts).
	{
		name:    "curl-user",
		hints:   hints("curl"),
		program: regexp.MustCompile(`(?:^|[\s/])curl\b`),
		re:      regexp.MustCompile(`(\s(?:-[A-Za-z]*[uU]|--user|--proxy-user)(?:\s+|=)?[^\s:]*:)\S+`),
		repl:    "${1}" + Mask,
	},
	// docker login -p pw (podman, nerdctl, buildah, skopeo, helm registry,
	// oras, crane, regctl; az login and az acr login): the argument of -p
	// after the login command (--password-stdin reads it from stdin).
	{
		name:    "login-password",
		hints:   hints("login"),
		program: regexp.MustCompile(`(?:^|[\s/])(?:docker|podman|nerdctl|buildah|skopeo|helm|oras|crane|regctl|az)\b(?:\s+\S+)*?\s+login\b`),
		re:      regexp.MustCompile(`(\s-p(?:\s+|=)?)[^\s-]\S*`),
		repl:    "${1}" + Mask,
	},
	// mongo -p pw, mongosh, mongodump, mongorestore, mongoexport,
	// mongoimport, mongostat, mongotop, mongofiles (a -p followed by an
	// option prompts).
	{
		name:    "mongo-password",
		hints:   hints("mongo"),
		program: regexp.MustCompile(`(?:^|[\s/])mongo(?:sh|dump|restore|export|import|stat|top|files)?\b`),
		re:      regexp.MustCompile(`(\s-p(?:\s+|=)?)[^\s-]\S*`),
		repl:    "${1}" + Mask,
	},
	// sqlcmd -P pw, bcp, osql, mssql-cli: the SQL Server clients' -P
	// (their -p is not a password).
	{
		name:    "sqlcmd-password",
		hints:   hints("sqlcmd", "bcp", "osql", "mssql-cli"),
		program: regexp.MustCompile(`(?:^|[\s/])(?:sqlcmd|bcp|osql|mssql-cli)\b`),
		re:      regexp.MustCompile(`(\s-P(?:\s+|=)?)[^\s-]\S*`),
		repl:    "${1}" + Mask,
	},
	// keytool -storepass pw, -keypass, -srcstorepass, -deststorepass,
	// -srckeypass, -destkeypass, -new (keytool, jarsigner);
	// -storepass:env NAME names a variable and stays.
	{
		name:    "keytool-password",
		hints:   hints("keytool", "jarsigner"),
		program: regexp.MustCompile(`(?:^|[\s/])(?:keytool|jarsigner)\b`),
		re:      regexp.MustCompile(`(\s-(?:(?:src|dest)?(?:store|key)pass|new)\s+)\S+`),
		repl:    "${1}" + Mask,
	},
	// smbclient -U user%pw, --user=user%pw (rpcclient, smbcacls, smbget,
	// smbtree, smbmap, net, samba-tool; wbinfo -a/--authenticate).
	{
		name:    "samba-user",
		hints:   hints("smb", "rpcclient", "net", "samba-tool", "wbinfo"),
		program: regexp.MustCompile(`(?:^|[\s/])(?:smbclient|rpcclient|smbcacls|smbcquotas|smbget|smbtree|smbmap|net|samba-tool|wbinfo)\b`),
		re:      regexp.MustCompile(`(\s(?:-[A-Za-z]*U|--user(?:name)?|-a|--authenticate)(?:\s+|=)?[^\s%]*%)\S+`),
		repl:    "${1}" + Mask,
	},
	// htpasswd -b file user pw, htpasswd -nb user pw: the password given on
	// the command line (-b), the last of the positional arguments.
	{
		name:  "htpasswd-password",
		hints: hints("htpasswd"),
		mask:  maskHtpasswd,
	},
	// ldapsearch -w pw, -wpw (ldapadd, ldapmodify, ldapdelete, ldappasswd,
	// ldapwhoami, ldapcompare, ldapmodrdn, ldapexop): the bind password.
	{
		name:    "ldap-password",
		hints:   hints("ldap"),
		program: regexp.MustCompile(`(?:^|[\s/])ldap(?:search|add|modify|delete|passwd|whoami|compare|modrdn|exop)\b`),
		re:      regexp.MustCompile(`(\s-w\s*)\S+`),
		repl:    "${1}" + Mask,
	},
	// zip -P pw, unzip -P pw, zipcloak -P pw.
	{
		name:    "zip-password",
		hints:   hints("zip"),
		program: regexp.MustCompile(`(?:^|[\s/])(?:zip|unzip|zipcloak)\b`),
		re:      regexp.MustCompile(`(\s-P\s*)\S+`),
		repl:    "${1}" + Mask,
	},
	// 7z x -ppw (7za, 7zr, 7zz, rar, unrar): glued to -p (a lone -p prompts).
	{
		name:    "7z-password",
		hints:   hints("7z", "rar"),
		program: regexp.MustCompile(`(?:^|[\s/])(?:7z|7za|7zr|7zz|rar|unrar)\b`),
		re:      regexp.MustCompile(`(\s-p)\S+`),
		repl:    "${1}" + Mask,
	},
	// openssl enc -k pw, -K hexkey: the passphrase and the raw key.
	{
		name:    "openssl-key",
		hints:   hints("openssl"),
		program: regexp.MustCompile(`(?:^|[\s/])openssl\b`),
		re:      regexp.MustCompile(`(\s-[kK]\s+)\S+`),
		repl:    "${1}" + Mask,
	},
	// sqlplus scott/tiger@db, sqlldr userid=scott/tiger, expdp, impdp,
	// rman target sys/pw@db, dgmgrl: the password of the logon, the first
	// argument that is not an option.
	{
		name:    "oracle-logon",
		hints:   hints("sqlplus", "sqlldr", "expdp", "impdp", "rman", "dgmgrl"),
		program: regexp.MustCompile(`(?:^|[\s/])(?:sqlplus|sqlldr|expdp|impdp|rman|dgmgrl)\b`),
		re:      regexp.MustCompile(`^((?:\s+-\S+)*\s+(?:userid=|(?:target|catalog|auxiliary)\s+)?[A-Za-z][\w$#]*/)[^\s@/]+`),
		repl:    "${1}" + Mask,
	},
	// openssl -passin pass:pw, -passout pass:pw, -pass pass:pw, apksigner
	// --ks-pass pass:pw: a password given as pass: (env:, file: and fd:
	// say where it is, and stay).
	{
		name:  "pass-colon",
		hints: hints("pass:"),
		re:    regexp.MustCompile(`(?i)(\s-{1,2}[\w-]*pass[\w-]*(?:\s+|=)pass:)\S+`),
		repl:  "${1}" + Mask,
	},
	// https://user:pw@host -> https://user:***@host; the password runs to the
	// last '@' of the authority, since unescaped '@' occur in real passwords.
	{
		name:  "url-userinfo",
		hints: hints("://"),
		re:    regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://)([^\s/:@]*):[^\s/]*@`),
		repl:  "${1}${2}:" + Mask + "@",
	},
	// https://token@host -> https://***@host
	{
		name:  "url-user",
		hints: hints("://"),
		re:    regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://)[^\s/:]+@`),
		repl:  "${1}" + Mask + "@",
	},
	// postgres://h/db?sslmode=require&password=pw, jdbc:...?user=u&password=pw,
	// ?access_token=x, ?api_key=x, ?sig=x (Azure SAS): a URL query
	// parameter whose name names a secret.
	{
		name:  "url-query-secret",
		hints: hints("pass", "pwd", "token", "secret", "key", "auth", "credential", "sig"),
		needs: '=',
		re:    regexp.MustCompile(`(?i)([?&;](?:[\w.-]*(?:passw(?:or)?d|pwd|token|secret|api-?key|access[_-]?key|auth|credential|signature)[\w.-]*|sig|key|pass)=)[^&\s#]+`),
		repl:  "${1}" + Mask,
	},
	// mount -t cifs -o user=u,password=pw (mount.cifs, sshfs -o ...): a
	// password in a comma-separated option list.
	{
		name:  "option-list-password",
		hints: hints("pass", "pwd", "token", "secret"),
		needs: ',',
		re:    regexp.MustCompile(`(?i)(,(?:[\w.-]*(?:passw(?:or)?d|pwd|token|secret)[\w.-]*|pass)=)[^,\s]+`),
		repl:  "${1}" + Mask,
	},
	// Authorization: Bearer x, Proxy-Authorization: Basic x -> the scheme is
	// kept, the credentials masked.
	{
		name:  "authorization-header",
		hints: hints("authorization"),
		needs: ':',
		re:    regexp.MustCompile(`(?i)(\b(?:proxy-)?authorization:\s*(?:(?:bearer|basic|token|digest|negotiate|bot)\s+)?)\S+`),
		repl:  "${1}" + Mask,
	},
	// X-Api-Key: x, X-Auth-Token: x, Private-Token: x, Cookie: x
	{
		name:  "secret-header",
		hints: hints("cookie", "token", "secret", "api", "passw"),
		needs: ':',
		re:    regexp.MustCompile(`(?i)(\b(?:cookie|[\w-]*(?:token|secret|api-?key|passw(?:or)?d)[\w-]*):\s*)\S+`),
		repl:  "${1}" + Mask,
	},
	// Bearer x, anywhere (a header given as --header=Bearer x, a variable).
	{
		name:  "bearer",
		hints: hints("bearer"),
		re:    regexp.MustCompile(`(?i)(\bbearer\s+)\S+`),
		repl:  "${1}" + Mask,
	},
	// Basic dXNlcjpwYXNz, anywhere: only a base64 value, so that the words
	// of "basic authentication" stay.
	{
		name:  "basic",
		hints: hints("basic"),
		re:    regexp.MustCompile(`(?i)(\bbasic\s+)(?:[a-z0-9+/]{4})+(?:[a-z0-9+/]{2}==|[a-z0-9+/]{3}=)?(\s|$)`),
		repl:  "${1}" + Mask + "${2}",
	},
	// GitHub tokens: ghp_ (personal), gho_ (OAuth), ghu_/ghs_ (app), ghr_
	// (refresh), github_pat_ (fine-grained).
	{
		name:  "github-token",
		hints: hints("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
		re:    regexp.MustCompile(`\b(gh[pousr]_|github_pat_)[0-9A-Za-z_]{20,}`),
		repl:  "${1}" + Mask,
	},
	// GitLab personal access tokens.
	{
		name:  "gitlab-token",
		hints: hints("glpat-"),
		re:    regexp.MustCompile(`\b(glpat-)[0-9A-Za-z_-]{20,}`),
		repl:  "${1}" + Mask,
	},
	// Slack tokens: xoxb- (bot), xoxp- (user), xoxa-, xoxe-, xoxo-, xoxr-, xoxs-.
	{
		name:  "slack-token",
		hints: hints("xox"),
		re:    regexp.MustCompile(`\b(xox[abeoprs]-)[0-9A-Za-z-]{10,}`),
		repl:  "${1}" + Mask,
	},
	// AWS access key ids: AKIA (long-term), ASIA (temporary), ABIA, ACCA, A3T.
	{
		name:  "aws-access-key-id",
		hints: hints("akia", "asia", "abia", "acca", "a3t"),
		re:    regexp.MustCompile(`\b(A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b`),
		repl:  "${1}" + Mask,
	},
	// Stripe secret and restricted keys: sk_live_, sk_test_, rk_live_, ...
	{
		name:  "stripe-key",
		hints: hints("sk_", "rk_"),
		re:    regexp.MustCompile(`\b((?:sk|rk)_(?:live|test|prod)_)[0-9A-Za-z]{10,}`),
		repl:  "${1}" + Mask,
	},
	// sk-... API keys (OpenAI, Anthropic and others): sk-, sk-proj-, sk-ant-.
	{
		name:  "sk-api-key",
		hints: hints("sk-"),
		re:    regexp.MustCompile(`\b(sk-)[0-9A-Za-z_-]{20,}`),
		repl:  "${1}" + Mask,
	},
	// Google API keys.
	{
		name:  "google-api-key",
		hints: hints("aiza"),
		re:    regexp.MustCompile(`\b(AIza)[0-9A-Za-z_-]{35}`),
		repl:  "${1}" + Mask,
	},
	// npm access tokens.
	{
		name:  "npm-token",
		hints: hints("npm_"),
		re:    regexp.MustCompile(`\b(npm_)[0-9A-Za-z]{36}`),
		repl:  "${1}" + Mask,
	},
	// JSON Web Tokens: a base64url header and payload, both JSON objects
	// ("eyJ" is the encoding of `{"`), and a signature.
	{
		name:  "jwt",
		hints: hints("eyj"),
		re:    regexp.MustCompile(`\b(eyJ)[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]*`),
		repl:  "${1}" + Mask,
	},
	// aws configure set aws_secret_access_key x, yarn config set
	// npmAuthToken x, dotnet user-secrets set ApiKey x: the value after
	// `set` and a name that names a secret.
	{
		name:  "set-name-value",
		hints: hints("set"),
		mask:  maskSetNameValue,
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
