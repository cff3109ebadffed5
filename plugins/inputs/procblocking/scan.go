//go:build linux

package procblocking

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/procblocking/procblocking/plugins/inputs/procblocking/internal/hostview"
)

const (
	// maxCmdline caps the bytes of one command line read and matched; the
	// kernel allows a few MiB of arguments, nobody needs them all to match.
	maxCmdline = 1 << 20
	// maxSmallFile caps stat, status and cgroup reads.
	maxSmallFile = 64 << 10
)

// Steps of the walk at which the test hook runs.
const (
	stepListed   = "listed"   // after readdir, before cmdline
	stepMatched  = "matched"  // after cmdline, before stat
	stepStat     = "stat"     // after stat, before the parent's status
	stepOrphaned = "orphaned" // after the parent's status, before cgroup
)

// procInfo is what one scan learns about one matching process.
type procInfo struct {
	pid         int64
	pattern     string
	createdAtNs int64
	cpuSeconds  float64
	stat        procStat
	orphan      orphanState
	cmdline     string
	containerID string
	// young is set for a process below min_age: only its stat is known,
	// kept so that cpu_usage is there when it is first reported, and so
	// that it counts in its job.
	young bool
	// descendant is set for a process reported because it descends from a
	// match, while its own command line matches no pattern (a pytest-xdist
	// worker); pattern is then its job's.
	descendant bool
	// The job the process belongs to: the topmost process of its chain of
	// reported parents (see assignJobs).
	jobPID         int64
	jobCreatedAtNs int64
}

type scanResult struct {
	procs     []procInfo
	processes int64
	errors    int64
}

// scanner walks a proc tree. Its buffers live across scans so that a process
// that does not match costs a few syscalls and no allocation.
type scanner struct {
	root    string
	matcher *matcher
	cmdline *cmdlineRenderer
	debugf  func(format string, args ...any)
	hook    func(step string, pid int64)

	dirBuf []byte  // getdents records
	pids   []int64 // the PIDs of the walk, for finding children without children files
	kids   []int64 // the children of one process
	path   []byte  // NUL-terminated "<pid>/<file>" relative to the root fd
	raw    []byte  // cmdline as read
	joined []byte  // cmdline with NULs turned into spaces, matched on
	file   []byte  // stat, status or cgroup
}

func newScanner(root string, m *matcher, r *cmdlineRenderer, debugf func(string, ...any)) *scanner {
	return &scanner{
		root:    root,
		matcher: m,
		cmdline: r,
		debugf:  debugf,
		dirBuf:  make([]byte, 32<<10),
		path:    make([]byte, 0, 64),
		raw:     make([]byte, 0, 4<<10),
		joined:  make([]byte, 0, 4<<10),
		file:    make([]byte, 0, 4<<10),
	}
}

// scan walks every PID under the root once. It fails as a whole only when the
// root itself or its btime cannot be read; a process that vanishes or cannot
// be read mid-walk is counted in errors and skipped. A match that started
// after youngAfterNs (unix ns) is below min_age: it costs no more than its
// stat.
func (s *scanner) scan(youngAfterNs int64) (scanResult, error) {
	var res scanResult
	btime, err := readBtime(s.root)
	if err != nil {
		return res, fmt.Errorf("reading btime: %w", err)
	}
	dirfd, err := unix.Open(s.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return res, fmt.Errorf("opening proc root: %w", err)
	}
	defer func() { _ = unix.Close(dirfd) }() // only read
	// The agent is the process <root>/self names. A root without self (a
	// fake tree) holds no agent: PID 0 is no process.
	self, _ := hostview.SelfPID(s.root)

	parents := make(parentCache)
	s.pids = s.pids[:0]
	for {
		n, err := unix.ReadDirent(dirfd, s.dirBuf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return res, fmt.Errorf("reading proc root: %w", err)
		}
		if n == 0 {
			break
		}
		for off := 0; off+19 <= n; {
			reclen := int(binary.NativeEndian.Uint16(s.dirBuf[off+16:]))
			if reclen < 19 || off+reclen > n {
				return res, fmt.Errorf("reading proc root: bad directory record length %d", reclen)
			}
			ino := binary.NativeEndian.Uint64(s.dirBuf[off:])
			typ := s.dirBuf[off+18]
			name := s.dirBuf[off+19 : off+reclen]
			off += reclen
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			pid, ok := parsePID(name)
			if !ok || ino == 0 || (typ != unix.DT_DIR && typ != unix.DT_UNKNOWN) {
				continue
			}
			res.processes++
			if pid == self {
				continue
			}
			s.pids = append(s.pids, pid)
			if info, ok := s.process(dirfd, name, pid, btime, youngAfterNs, parents, &res); ok {
				res.procs = append(res.procs, info)
			}
		}
	}
	s.addDescendants(dirfd, self, btime, youngAfterNs, parents, &res)
	slices.SortFunc(res.procs, func(a, b procInfo) int { return cmp.Compare(a.pid, b.pid) })
	assignJobs(res.procs)
	return res, nil
}

// process looks at one PID. Everything up to the match is allocation-free.
func (s *scanner) process(dirfd int, name []byte, pid int64, btime uint64, youngAfterNs int64, parents parentCache, res *scanResult) (procInfo, bool) {
	s.step(stepListed, pid)
	raw, err := s.read(dirfd, name, "cmdline", &s.raw, maxCmdline)
	if err != nil {
		s.fail(res, pid, "cmdline", err)
		return procInfo{}, false
	}
	s.joined = joinInPlace(s.joined, raw)
	idx := s.matcher.match(s.joined)
	if idx < 0 {
		return procInfo{}, false
	}

	s.step(stepMatched, pid)
	info, ok := s.readInfo(dirfd, name, pid, btime, youngAfterNs, res)
	if !ok || info.young {
		return info, ok
	}
	info.pattern = s.matcher.names[idx]
	return s.describe(dirfd, name, raw, info, parents, res)
}

// readInfo reads the stat of a process that is reported or counts in a
// job; a process that started after youngAfterNs is young, and that is all
// that is read of it.
func (s *scanner) readInfo(dirfd int, name []byte, pid int64, btime uint64, youngAfterNs int64, res *scanResult) (procInfo, bool) {
	st, err := s.readStat(dirfd, name)
	if err != nil {
		s.fail(res, pid, "stat", err)
		return procInfo{}, false
	}
	info := procInfo{
		pid:         pid,
		createdAtNs: int64(btime)*1e9 + int64(st.startTime)*(1e9/userHZ),
		cpuSeconds:  float64(st.utime+st.stime) / userHZ,
		stat:        st,
	}
	info.young = info.createdAtNs > youngAfterNs
	return info, true
}

// describe completes what is reported of a process whose stat is read: its
// command line, from raw, whether it is an orphan, and its container.
func (s *scanner) describe(dirfd int, name, raw []byte, info procInfo, parents parentCache, res *scanResult) (procInfo, bool) {
	pid, st := info.pid, info.stat
	info.cmdline = s.cmdline.render(raw)

	s.step(stepStat, pid)
	readStatus := func(ppid int64) ([]byte, error) { return s.readStatus(dirfd, ppid) }
	orphan, err := parents.isOrphan(st.ppid, readStatus)
	if err != nil {
		// The parent may have exited and the process been reparented: look
		// again once, so that a process that is still there is not lost.
		// (Or the parent is hidden by hidepid, and will be again.)
		again, errAgain := s.readStat(dirfd, name)
		if errAgain != nil {
			s.fail(res, pid, "stat", errAgain)
			return procInfo{}, false
		}
		if again.startTime != st.startTime {
			// Another process got the PID: the matched one is gone.
			s.fail(res, pid, "stat", unix.ESRCH)
			return procInfo{}, false
		}
		st = again
		if orphan, err = parents.isOrphan(st.ppid, readStatus); err != nil {
			// Reported all the same, with its orphan state unknown.
			res.errors++
			s.debugf("PID %d: reading the status of its parent %d: %v", pid, st.ppid, err)
		}
	}
	info.stat = st
	info.orphan = orphan
	info.cpuSeconds = float64(st.utime+st.stime) / userHZ

	s.step(stepOrphaned, pid)
	// The container id is optional: a process that was alive for its stat is
	// reported even when its cgroup cannot be read.
	if cg, err := s.read(dirfd, name, "cgroup", &s.file, maxSmallFile); err == nil {
		info.containerID = parseContainerID(cg)
	} else {
		s.debugf("PID %d: reading cgroup: %v", pid, err)
	}
	return info, true
}

func (s *scanner) step(step string, pid int64) {
	if s.hook != nil {
		s.hook(step, pid)
	}
}

func (s *scanner) fail(res *scanResult, pid int64, what string, err error) {
	res.errors++
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
		s.debugf("PID %d vanished while reading %s", pid, what)
		return
	}
	s.debugf("PID %d: reading %s: %v", pid, what, err)
}

func (s *scanner) readStat(dirfd int, name []byte) (procStat, error) {
	b, err := s.read(dirfd, name, "stat", &s.file, maxSmallFile)
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// readStatus reads /proc/<pid>/status into the shared file buffer.
func (s *scanner) readStatus(dirfd int, pid int64) ([]byte, error) {
	var name [20]byte
	return s.read(dirfd, strconv.AppendInt(name[:0], pid, 10), "status", &s.file, maxSmallFile)
}

// read reads <pid>/<file> below the root fd into *buf, growing it up to
// limit; beyond the limit the content is cut. No allocation once *buf has
// grown to fit.
func (s *scanner) read(dirfd int, pid []byte, file string, buf *[]byte, limit int) ([]byte, error) {
	s.path = append(s.path[:0], pid...)
	s.path = append(s.path, '/')
	s.path = append(s.path, file...)
	s.path = append(s.path, 0)
	fd, err := openat(dirfd, s.path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = unix.Close(fd) }() // only read
	b := (*buf)[:0]
	for {
		if len(b) == cap(b) {
			if cap(b) >= limit {
				break
			}
			grown := make([]byte, len(b), min(2*cap(b)+512, limit))
			copy(grown, b)
			b = grown
		}
		n, err := unix.Read(fd, b[len(b):cap(b)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			*buf = b
			return nil, err
		}
		if n == 0 {
			break
		}
		b = b[:len(b)+n]
	}
	*buf = b
	return b, nil
}

// openat opens a NUL-terminated path relative to dirfd without converting it
// to a string, which unix.Openat would allocate.
func openat(dirfd int, path []byte) (int, error) {
	fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(&path[0])),
		uintptr(unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NOFOLLOW), 0, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}
