//go:build linux

package benchmarks

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"unsafe"
)

// floorScanner is the least work that answers "which processes match, and
// since when": one getdents walk of /proc, one read of each cmdline, a byte
// match, and a read of stat for the matches only. Every buffer is reused, so
// a scan allocates nothing per process. It is a yardstick, not a product: it
// reports no metrics and parses only the stat fields an alert needs.
type floorScanner struct {
	proc    string
	procz   []byte // proc, NUL-terminated for openat
	pattern []byte
	dents   []byte
	buf     []byte
	path    []byte

	// listOnly stops at the readdir: what is left of a scan without the
	// per-process reads, to tell what bounds it.
	listOnly bool

	// Results of the last scan; the slices are reused by the next.
	procs   int
	matched []floorProc
}

type floorProc struct {
	pid       int
	ppid      int
	cpuTicks  uint64
	startTick uint64
	btime     uint64
}

func newFloorScanner(proc, pattern string) *floorScanner {
	return &floorScanner{
		proc:    proc,
		procz:   append([]byte(proc), 0),
		pattern: []byte(pattern),
		dents:   make([]byte, 64<<10),
		buf:     make([]byte, 4096),
		path:    make([]byte, 0, 64),
	}
}

var errShortStat = errors.New("short stat line")

// scan walks /proc once. A PID that vanished between the readdir and a read
// is skipped, as it is in any /proc scanner.
func (f *floorScanner) scan() error {
	f.procs = 0
	f.matched = f.matched[:0]
	dirfd, errno := openat(atFDCWD, f.procz, syscall.O_DIRECTORY)
	if errno != 0 {
		return fmt.Errorf("opening %s: %w", f.proc, errno)
	}
	defer syscall.Close(dirfd)
	btime, err := f.bootTime(dirfd)
	if err != nil {
		return err
	}
	for {
		n, err := syscall.Getdents(dirfd, f.dents)
		if err != nil {
			return fmt.Errorf("reading %s: %w", f.proc, err)
		}
		if n <= 0 {
			return nil
		}
		for off := 0; off < n; {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
			reclen := int(binary.NativeEndian.Uint16(f.dents[off+16:]))
			name := f.dents[off+19 : off+reclen]
			off += reclen
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			pid, ok := atoi(name)
			if !ok {
				continue
			}
			f.procs++
			if f.listOnly {
				continue
			}
			cmdline, ok := f.readAt(dirfd, name, "/cmdline")
			if !ok || !bytes.Contains(cmdline, f.pattern) {
				continue
			}
			stat, ok := f.readAt(dirfd, name, "/stat")
			if !ok {
				continue
			}
			p, err := parseStat(stat)
			if err != nil {
				continue
			}
			p.pid = pid
			p.btime = btime
			f.matched = append(f.matched, p)
		}
	}
}

// readAt reads <proc>/<pid><file> whole into the reused buffer, growing it
// when a file does not fit. false means the process is gone or unreadable.
func (f *floorScanner) readAt(dirfd int, pid []byte, file string) ([]byte, bool) {
	f.path = append(append(append(f.path[:0], pid...), file...), 0)
	fd, errno := openat(dirfd, f.path, 0)
	if errno != 0 {
		return nil, false
	}
	defer syscall.Close(fd)
	n := 0
	for {
		if n == len(f.buf) {
			f.buf = append(f.buf, make([]byte, len(f.buf))...)
		}
		m, err := syscall.Read(fd, f.buf[n:])
		if err != nil {
			return nil, false
		}
		if m == 0 {
			return f.buf[:n], true
		}
		n += m
	}
}

// bootTime reads btime from <proc>/stat once per scan: start times in
// /proc/<pid>/stat are in ticks since boot.
func (f *floorScanner) bootTime(dirfd int) (uint64, error) {
	b, ok := f.readAt(dirfd, nil, "stat")
	if !ok {
		return 0, fmt.Errorf("reading %s/stat", f.proc)
	}
	i := bytes.Index(b, []byte("\nbtime "))
	if i < 0 {
		return 0, fmt.Errorf("no btime in %s/stat", f.proc)
	}
	b = b[i+len("\nbtime "):]
	if j := bytes.IndexByte(b, '\n'); j >= 0 {
		b = b[:j]
	}
	v, ok := atou(b)
	if !ok {
		return 0, fmt.Errorf("bad btime %q in %s/stat", b, f.proc)
	}
	return v, nil
}

// atFDCWD is AT_FDCWD: openat relative to the working directory.
const atFDCWD = -100

// openat is openat(2), read-only, on a NUL-terminated path without the copy
// that syscall.Openat makes of its string argument.
func openat(dirfd int, path []byte, flags int) (int, syscall.Errno) {
	fd, _, errno := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(dirfd),
		uintptr(unsafe.Pointer(&path[0])), uintptr(syscall.O_RDONLY|syscall.O_CLOEXEC|flags), 0, 0, 0)
	return int(fd), errno
}

// parseStat takes ppid, utime+stime and starttime from a stat line; comm ends
// at the last ')' because it may itself contain ") ".
func parseStat(b []byte) (floorProc, error) {
	var p floorProc
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 > len(b) {
		return p, errShortStat
	}
	b = b[i+2:]
	// Field 3 (state) is at index 0 of what follows ") ".
	for field := 3; len(b) > 0 && field <= 22; field++ {
		end := bytes.IndexByte(b, ' ')
		if end < 0 {
			end = len(b)
		}
		tok := b[:end]
		switch field {
		case 4:
			v, _ := atou(tok)
			p.ppid = int(v)
		case 14, 15:
			v, _ := atou(tok)
			p.cpuTicks += v
		case 22:
			v, ok := atou(tok)
			if !ok {
				return p, errShortStat
			}
			p.startTick = v
			return p, nil
		}
		if end == len(b) {
			break
		}
		b = b[end+1:]
	}
	return p, errShortStat
}

func atou(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

func atoi(b []byte) (int, bool) {
	v, ok := atou(b)
	return int(v), ok
}
