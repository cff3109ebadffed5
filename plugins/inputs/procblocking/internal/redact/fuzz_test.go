package redact

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// secretMark stands for a secret value; the fuzzer builds command lines
// around it and checks that no built-in rule lets it through. Token shapes
// that allow no lowercase letters carry secretMarkUpper instead.
const (
	secretMark      = "S3cr3tV4lu3"
	secretMarkUpper = "S3CR3TV4LU3Q"
)

// secretForms are command-line arguments, one per built-in rule, each
// holding a planted secret; the second string is what must not survive.
var secretForms = [][2]string{
	{"--password=" + secretMark, secretMark},
	{"--token " + secretMark, secretMark},
	{"DB_PASSWORD=" + secretMark, secretMark},
	{"https://user:" + secretMark + "@host/x", secretMark},
	{"https://" + secretMark + "@host/x", secretMark},
	{"-api-key " + secretMark, secretMark},
	{"API_KEY=" + secretMark, secretMark},
	{"--client-secret=" + secretMark, secretMark},
	{"--pass=" + secretMark, secretMark},
	{"--key=sk_live_" + secretMark, secretMark},
	{"--private-key " + secretMark, secretMark},
	{"mysql\x00-uroot\x00-p" + secretMark, secretMark},
	{"mysqldump\x00-p" + secretMark + "\x00db", secretMark},
	{"sshpass\x00-p\x00" + secretMark + "\x00ssh", secretMark},
	{"redis-cli\x00-a\x00" + secretMark, secretMark},
	{"-H\x00Authorization: Bearer " + secretMark, secretMark},
	{"-H\x00Authorization: Basic " + secretMark + "Q=", secretMark},
	{"-H\x00X-Api-Key: " + secretMark, secretMark},
	{"Bearer " + secretMark, secretMark},
	{"ghp_" + secretMark + "0123456789abcdefghijklmnopqrstuvwxyz", secretMark},
	{"github_pat_11" + secretMark + "_0123456789abcdefghijklmnop", secretMark},
	{"glpat-" + secretMark + "0123456789ab", secretMark},
	{"xoxb-1234567890-" + secretMark, secretMark},
	{"AKIA" + secretMarkUpper + "ABCD", secretMarkUpper},
	{"sk_live_" + secretMark + "0123", secretMark},
	{"sk-proj-" + secretMark + "0123456789ab", secretMark},
	{"AIza" + secretMark + "012345678901234567890123", secretMark},
	{"npm_" + secretMark + "0123456789abcdefghijklmnopqrstuvwx", secretMark[:8] + "0123"},
	{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx" + secretMark + ".c2lnbmF0dXJl", secretMark},
	{"curl\x00-u\x00admin:" + secretMark, secretMark},
	{"curl\x00--proxy-user\x00u:" + secretMark, secretMark},
	{"docker\x00login\x00-p\x00" + secretMark, secretMark},
	{"az\x00login\x00-u\x00app\x00-p\x00" + secretMark, secretMark},
	{"mongo\x00-p\x00" + secretMark, secretMark},
	{"sqlcmd\x00-P\x00" + secretMark, secretMark},
	{"openssl\x00rsa\x00-passin\x00pass:" + secretMark, secretMark},
	{"openssl\x00genrsa\x00-passout\x00pass:" + secretMark, secretMark},
	{"openssl\x00enc\x00-k\x00" + secretMark, secretMark},
	{"keytool\x00-storepass\x00" + secretMark, secretMark},
	{"keytool\x00-srcstorepass\x00" + secretMark, secretMark},
	{"keytool\x00-keypass\x00" + secretMark, secretMark},
	{"smbclient\x00-U\x00user%" + secretMark, secretMark},
	{"htpasswd\x00-b\x00f\x00user\x00" + secretMark, secretMark},
	{"htpasswd\x00-nb\x00user\x00" + secretMark, secretMark},
	{"aws\x00configure\x00set\x00aws_secret_access_key\x00" + secretMark, secretMark},
	{"mysqladmin\x00-p" + secretMark, secretMark},
	{"postgresql://db/app?sslmode=require&password=" + secretMark, secretMark},
	{"-o\x00user=bob,password=" + secretMark, secretMark},
	{"ldapsearch\x00-w\x00" + secretMark, secretMark},
	{"zip\x00-P\x00" + secretMark, secretMark},
	{"7z\x00x\x00-p" + secretMark, secretMark},
	{"sqlplus\x00scott/" + secretMark + "@db", secretMark},
}

// Any text around a planted secret, of any rule: the secret does not
// survive, and the result is valid UTF-8.
func FuzzRedact(f *testing.F) {
	f.Add([]byte("python3\x00-m\x00pytest\x00"), []byte("tests/\x00"), uint8(0))
	f.Add([]byte("py\xff\x00"), []byte("\xc3"), uint8(3))
	f.Add([]byte("-pAss"), []byte("0"), byte('\r'))
	f.Add([]byte("x\x00--password"), []byte("\xff\x00"), uint8(1))
	for i := range secretForms {
		f.Add([]byte("app"), []byte("x"), uint8(i))
		// A secret option right before the form must not hide it.
		f.Add([]byte("--auth"), []byte("x"), uint8(i))
	}
	r, err := New(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, prefix, suffix []byte, form uint8) {
		planted := secretForms[int(form)%len(secretForms)]
		if strings.Contains(strings.ToUpper(string(prefix)+string(suffix)), strings.ToUpper(planted[1][:4])) {
			return
		}
		raw := string(prefix) + "\x00" + planted[0] + "\x00" + string(suffix)
		cmdline := strings.ToValidUTF8(strings.ReplaceAll(raw, "\x00", " "), "\uFFFD")
		got := r.Redact(cmdline)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 %q from %q", got, cmdline)
		}
		if strings.Contains(got, planted[1][:4]) {
			t.Fatalf("secret survived in %q from %q", got, cmdline)
		}
	})
}
