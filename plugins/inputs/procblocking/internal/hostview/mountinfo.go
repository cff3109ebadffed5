package hostview

import (
	"bytes"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
)

// procMount is what the mount table says about the mount holding a path.
type procMount struct {
	mountPoint string
	fsType     string
	// hidepid is the hidepid= option as the kernel prints it ("off",
	// "noaccess", "invisible", "ptraceable", or 0, 1, 2, 4 before Linux 5.8);
	// "" when the option is absent.
	hidepid string
	// gid is the gid= option: members of that group see every process
	// despite hidepid. -1 when absent.
	gid int64
}

// hidesProcesses tells whether the hidepid option hides other users'
// processes.
func (m procMount) hidesProcesses() bool {
	switch m.hidepid {
	case "", "0", "off":
		return false
	}
	return true
}

// ptraceableOnly tells whether only ptrace access shows a process, whatever
// the gid= option says.
func (m procMount) ptraceableOnly() bool {
	return m.hidepid == "4" || m.hidepid == "ptraceable"
}

// findMount returns the entry of a /proc/<pid>/mountinfo table that holds
// path (absolute, symlinks resolved): the one with the longest mount point
// that contains path, the last listed when several share it (a mount on top
// of another comes after it).
func findMount(mountinfo []byte, path string) (procMount, error) {
	path = filepath.Clean(path)
	var best procMount
	found := false
	for line := range bytes.Lines(mountinfo) {
		m, err := parseMountinfoLine(line)
		if err != nil {
			return procMount{}, err
		}
		if !pathWithin(path, m.mountPoint) {
			continue
		}
		if !found || len(m.mountPoint) >= len(best.mountPoint) {
			best, found = m, true
		}
	}
	if !found {
		return procMount{}, errors.New("mountinfo: no mount holds " + path)
	}
	return best, nil
}

func pathWithin(path, dir string) bool {
	if dir == "/" || path == dir {
		return true
	}
	return strings.HasPrefix(path, dir) && path[len(dir)] == '/'
}

// parseMountinfoLine parses one line of /proc/<pid>/mountinfo (proc(5)):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// The optional fields after the mount options end with a lone "-"; then come
// the filesystem type, the source and the superblock options, where proc
// keeps hidepid= and gid=.
func parseMountinfoLine(line []byte) (procMount, error) {
	fields := strings.Fields(string(line))
	sep := -1
	for i := 6; i < len(fields); i++ {
		if fields[i] == "-" {
			sep = i
			break
		}
	}
	if len(fields) < 6 || sep < 0 || len(fields) < sep+3 {
		return procMount{}, errors.New("mountinfo: malformed line " + strconv.Quote(string(bytes.TrimSpace(line))))
	}
	m := procMount{
		mountPoint: unescapeMountinfo(fields[4]),
		fsType:     fields[sep+1],
		gid:        -1,
	}
	if !strings.HasPrefix(m.mountPoint, "/") {
		return procMount{}, errors.New("mountinfo: mount point not absolute in " + strconv.Quote(string(bytes.TrimSpace(line))))
	}
	opts := fields[5]
	if len(fields) > sep+3 {
		opts += "," + fields[sep+3]
	}
	for opt := range strings.SplitSeq(opts, ",") {
		if v, ok := strings.CutPrefix(opt, "hidepid="); ok {
			m.hidepid = v
		} else if v, ok := strings.CutPrefix(opt, "gid="); ok {
			if gid, err := strconv.ParseInt(v, 10, 64); err == nil && gid >= 0 {
				m.gid = gid
			}
		}
	}
	return m, nil
}

// unescapeMountinfo undoes the kernel's octal escapes of space, tab,
// newline and backslash (\040, \011, \012, \134) in a mountinfo path.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }
