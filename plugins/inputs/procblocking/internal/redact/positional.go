package redact

import (
	"regexp"
	"strings"
)

// htpasswdProgram finds the htpasswd program word, run directly or through
// a wrapper.
var htpasswdProgram = regexp.MustCompile(`(?:^|[\s/])htpasswd\b`)

// maskHtpasswd masks the password of `htpasswd -b [flags] file user pw` and
// `htpasswd -nb user pw`: with -b it is the third argument that is not an
// option (the second with -n, which writes no file). Options come first;
// -C and -r take a value.
func maskHtpasswd(s string) string {
	locs := htpasswdProgram.FindAllStringIndex(s, -1)
	// From the last run back, so that masking one leaves the positions of
	// the runs before it as they were.
	for i := len(locs) - 1; i >= 0; i-- {
		s = maskHtpasswdAt(s, locs[i][1])
	}
	return s
}

func maskHtpasswdAt(s string, from int) string {
	var flags string
	positional := 0
	for start, end := nextArg(s, from); start < len(s); start, end = nextArg(s, end) {
		arg := s[start:end]
		if positional == 0 && len(arg) > 1 && arg[0] == '-' {
			flags += arg[1:]
			if arg == "-C" || arg == "-r" {
				_, end = nextArg(s, end)
			}
			continue
		}
		positional++
		if !strings.Contains(flags, "b") {
			return s
		}
		want := 3
		if strings.Contains(flags, "n") {
			want = 2
		}
		if positional == want {
			return s[:start] + Mask + s[end:]
		}
	}
	return s
}

// maskSetNameValue masks VALUE in `... set NAME VALUE` when NAME names a
// secret: the configuration commands of aws, npm, yarn, pnpm, gcloud,
// dotnet user-secrets and the like. Options between set and NAME are
// skipped; a VALUE that is an option is not one.
func maskSetNameValue(s string) string {
	m := argMasker{s: s}
	for start, end := nextArg(s, 0); start < len(s); start, end = nextArg(s, end) {
		if !strings.EqualFold(s[start:end], "set") {
			continue
		}
		nameStart, nameEnd := nextArg(s, end)
		for nameStart < len(s) && s[nameStart] == '-' {
			nameStart, nameEnd = nextArg(s, nameEnd)
		}
		name := s[nameStart:nameEnd]
		if name == "" || strings.IndexByte(name, '=') >= 0 || !isSecretName(name) {
			continue
		}
		if valEnd, ok := m.maskArgAfter(nameEnd); ok {
			end = valEnd
		}
	}
	return m.result()
}
