package hostview

import (
	"strings"
	"testing"
)

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

// Any stat and status: the readers of the facts never fail, and a kernel
// thread is only one whose parent is 0.
func FuzzViewFacts(f *testing.F) {
	f.Add([]byte("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 1 0 0 20 0 1 0 1 0 0"), []byte("NSpid:\t700\t1\n"))
	f.Add([]byte("2 (a) b) S 0 0 0 0 -1 x"), []byte("NSpid:"))
	f.Fuzz(func(t *testing.T, stat, status []byte) {
		if isKthreadd(stat) && !strings.Contains(string(stat), " 0 ") {
			t.Fatalf("kthreadd without parent 0: %q", stat)
		}
		if n := nspidLevels(status); n < 0 || n > len(status) {
			t.Fatalf("%d levels from %q", n, status)
		}
	})
}
