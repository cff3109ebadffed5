package procblocking

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("42 (python3) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 100 123456789 2560 0"))
	f.Add([]byte("7 (py) (test) R 3 0 0 0 0 0 0 0 0 0 1 2 0 0 0 0 9 0 77 0 5"))
	f.Add([]byte("8 ()) Z"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseStat(b)
		if err != nil {
			return
		}
		if !utf8.ValidString(s.comm) || !utf8.ValidString(s.state) {
			t.Fatalf("invalid UTF-8 from %q: %+v", b, s)
		}
	})
}

func FuzzParseNSpid(f *testing.F) {
	f.Add([]byte("Name:\ttini\nNSpid:\t610\t1\n"))
	f.Add([]byte("NSpid:\t1"))
	f.Add([]byte("NSpid:\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pids, err := parseNSpid(b)
		if err == nil && len(pids) == 0 {
			t.Fatalf("no error and no PIDs from %q", b)
		}
		_, _ = isNamespaceInit(b)
	})
}

func FuzzParseContainerID(f *testing.F) {
	const id = "3f4e0b2c1d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c"
	f.Add([]byte("12:pids:/docker/" + id + "\n0::/\n"))
	f.Add([]byte("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12ab.slice/cri-containerd-" + id + ".scope"))
	f.Add([]byte("0::/system.slice/crio-" + id + ".scope"))
	f.Add([]byte("0::/"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := parseContainerID(b)
		if got != "" && (!isHex64(got) || !strings.Contains(string(b), got)) {
			t.Fatalf("bad id %q from %q", got, b)
		}
	})
}

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
}

func FuzzRenderCmdline(f *testing.F) {
	f.Add([]byte("python3\x00-m\x00pytest\x00"), []byte("tests/\x00"), uint8(0), uint16(512))
	f.Add([]byte("py\xff\x00"), []byte("\xc3"), uint8(3), uint16(16))
	f.Add([]byte("--password"), []byte("x\x00"), uint8(1), uint16(40))
	f.Add([]byte(""), []byte(""), uint8(5), uint16(100))
	for i := range secretForms {
		f.Add([]byte("app"), []byte("x"), uint8(i), uint16(512))
		// A secret option right before the form must not hide it.
		f.Add([]byte("--auth"), []byte("x"), uint8(i), uint16(512))
	}
	f.Fuzz(func(t *testing.T, prefix, suffix []byte, form uint8, maxLength uint16) {
		planted := secretForms[int(form)%len(secretForms)]
		if strings.Contains(strings.ToUpper(string(prefix)+string(suffix)), strings.ToUpper(planted[1][:4])) {
			return
		}
		r, err := newRedactor(nil, 16+int(maxLength%2048))
		if err != nil {
			t.Fatal(err)
		}
		raw := string(prefix) + "\x00" + planted[0] + "\x00" + string(suffix)
		got := r.render([]byte(raw))
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 %q from %q", got, raw)
		}
		if strings.ContainsRune(got, 0) {
			t.Fatalf("NUL left in %q", got)
		}
		if n := utf8.RuneCountInString(got); n > r.maxLength {
			t.Fatalf("%d characters, max %d", n, r.maxLength)
		}
		if strings.Contains(got, planted[1][:4]) {
			t.Fatalf("secret survived in %q from %q", got, raw)
		}
	})
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add([]byte(mountinfoSample), "/host/proc")
	f.Add([]byte("22 27 0:21 / /proc rw - proc proc rw,hidepid=2\n"), "/proc")
	f.Add([]byte("47 46 0:41 / /tmp/my\\040proc rw - proc proc rw\n"), "/tmp/my proc/x")
	f.Add([]byte(""), "/")
	f.Fuzz(func(t *testing.T, table []byte, path string) {
		m, err := findMount(table, path)
		if err != nil {
			return
		}
		if !strings.HasPrefix(m.mountPoint, "/") {
			t.Fatalf("mount point %q from %q", m.mountPoint, table)
		}
		if m.hidepid != "" && !strings.Contains(string(table), "hidepid="+m.hidepid) {
			t.Fatalf("hidepid %q not in %q", m.hidepid, table)
		}
	})
}
