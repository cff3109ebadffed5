package procblocking

import (
	"bytes"
	"slices"
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

// Any command line: the rendered field is valid UTF-8, holds no NUL, is at
// most cmdline_max_length characters, and masks a password option however
// the text around it reads (the rules themselves are fuzzed in redact).
func FuzzRenderCmdline(f *testing.F) {
	f.Add([]byte("python3\x00-m\x00pytest\x00"), uint16(512))
	f.Add([]byte("py\xff\x00\xc3"), uint16(16))
	f.Add([]byte("--password\x00x\x00"), uint16(40))
	f.Add([]byte(""), uint16(100))
	f.Fuzz(func(t *testing.T, raw []byte, maxLength uint16) {
		r, err := newCmdlineRenderer(nil, 16+int(maxLength%2048))
		if err != nil {
			t.Fatal(err)
		}
		got := r.render(raw)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 %q from %q", got, raw)
		}
		if strings.ContainsRune(got, 0) {
			t.Fatalf("NUL left in %q", got)
		}
		if n := utf8.RuneCountInString(got); n > r.maxLength {
			t.Fatalf("%d characters, max %d", n, r.maxLength)
		}
		if !bytes.Contains(bytes.ToUpper(raw), []byte("S3CR3T")) {
			withSecret := append(append(slices.Clone(raw), 0), "--password=S3cr3tV4lu3"...)
			if got := r.render(withSecret); strings.Contains(got, "S3cr3t") {
				t.Fatalf("secret survived in %q from %q", got, withSecret)
			}
		}
	})
}
