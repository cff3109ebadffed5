//go:build linux

package procblocking

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"

	"golang.org/x/sys/unix"
)

// stepDescendant is the step of the walk at which the test hook runs for a
// descendant, after its stat and before its command line.
const stepDescendant = "descendant"

// addDescendants adds to res the descendants of its processes that the walk
// did not match (pytest-xdist's workers run `python -c ...`): a job is the
// matched process and all its descendants. The children of each process
// come from /proc/<pid>/task/<tid>/children, which costs a read per process
// of a job and nothing for the others; a kernel without those files
// (CONFIG_PROC_CHILDREN unset) or a fake tree without them costs, in a scan
// that matched something, a read of the stat of every process of the walk.
func (s *scanner) addDescendants(dirfd int, self int64, btime uint64, youngAfterNs int64, parents parentCache, res *scanResult) {
	if len(res.procs) == 0 {
		return
	}
	seen := make(map[int64]bool, len(res.procs)+1)
	for i := range res.procs {
		seen[res.procs[i].pid] = true
	}
	// The agent is never reported, even when a match started it.
	seen[self] = true
	var byParent map[int64][]int64
	// res.procs grows while it is walked: breadth first, each process once.
	for i := 0; i < len(res.procs); i++ {
		parent := res.procs[i]
		kids, ok := s.children(dirfd, parent.pid, parent.stat.threads)
		if !ok {
			if byParent == nil {
				byParent = s.childrenByStat(dirfd, seen)
			}
			kids = byParent[parent.pid]
		}
		for _, kid := range kids {
			if seen[kid] {
				continue
			}
			seen[kid] = true
			if info, ok := s.descendant(dirfd, kid, &parent, btime, youngAfterNs, parents, res); ok {
				res.procs = append(res.procs, info)
			}
		}
	}
}

// descendant reads a child of parent found after the walk. It is not one
// when it has another parent by now (the listed PID was reused, or the
// child was reparented) or started before its parent (the parent's PID was
// reused). A descendant whose command line matches a pattern is a match; a
// zombie, which has no command line, is not reported.
func (s *scanner) descendant(dirfd int, pid int64, parent *procInfo, btime uint64, youngAfterNs int64, parents parentCache, res *scanResult) (procInfo, bool) {
	var buf [20]byte
	name := strconv.AppendInt(buf[:0], pid, 10)
	info, ok := s.readInfo(dirfd, name, pid, btime, youngAfterNs, res)
	if !ok || info.stat.ppid != parent.pid || info.createdAtNs < parent.createdAtNs {
		return procInfo{}, false
	}
	s.step(stepDescendant, pid)
	if info.young {
		return info, true
	}
	raw, err := s.read(dirfd, name, "cmdline", &s.raw, maxCmdline)
	if err != nil {
		s.fail(res, pid, "cmdline", err)
		return procInfo{}, false
	}
	if len(raw) == 0 {
		return procInfo{}, false
	}
	s.joined = joinInPlace(s.joined, raw)
	if idx := s.matcher.match(s.joined); idx >= 0 {
		info.pattern = s.matcher.names[idx]
	} else {
		info.descendant = true
	}
	return s.describe(dirfd, name, raw, info, parents, res)
}

// children lists the children of pid from the children file of each of its
// threads (a child's parent is the thread that forked it); a process of one
// thread has one such file, <pid>/task/<pid>/children. false when the files
// do not exist while the process does.
func (s *scanner) children(dirfd int, pid, threads int64) ([]int64, bool) {
	var buf [64]byte
	s.kids = s.kids[:0]
	if threads <= 1 {
		name := strconv.AppendInt(buf[:0], pid, 10)
		name = append(name, "/task/"...)
		name = strconv.AppendInt(name, pid, 10)
		return s.kids, s.readChildren(dirfd, pid, name)
	}
	dir := append(strconv.AppendInt(buf[:0], pid, 10), "/task"...)
	tids, ok := s.listTasks(dirfd, dir)
	if !ok {
		return s.kids, !s.exists(dirfd, pid)
	}
	var taskBuf [64]byte
	for _, tid := range tids {
		name := strconv.AppendInt(append(append(taskBuf[:0], dir...), '/'), tid, 10)
		if !s.readChildren(dirfd, pid, name) {
			return s.kids, false
		}
	}
	return s.kids, true
}

// readChildren adds to s.kids the PIDs of the children file of one task
// (space-separated). A task that has exited has none; false when the file
// does not exist while the process does.
func (s *scanner) readChildren(dirfd int, pid int64, task []byte) bool {
	b, err := s.read(dirfd, task, "children", &s.file, maxSmallFile)
	if err != nil {
		return !errors.Is(err, unix.ENOENT) || !s.exists(dirfd, pid)
	}
	for _, f := range bytes.Fields(b) {
		if kid, ok := parsePID(f); ok {
			s.kids = append(s.kids, kid)
		}
	}
	return true
}

// listTasks lists the thread IDs of <dir> (a <pid>/task directory).
func (s *scanner) listTasks(dirfd int, dir []byte) ([]int64, bool) {
	s.path = append(append(s.path[:0], dir...), 0)
	fd, err := openat(dirfd, s.path)
	if err != nil {
		return nil, false
	}
	defer func() { _ = unix.Close(fd) }() // only read
	var tids []int64
	for {
		n, err := unix.ReadDirent(fd, s.dirBuf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, false
		}
		if n == 0 {
			return tids, true
		}
		for off := 0; off+19 <= n; {
			reclen := int(binary.NativeEndian.Uint16(s.dirBuf[off+16:]))
			if reclen < 19 || off+reclen > n {
				return nil, false
			}
			name := s.dirBuf[off+19 : off+reclen]
			off += reclen
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if tid, ok := parsePID(name); ok {
				tids = append(tids, tid)
			}
		}
	}
}

// exists tells whether <pid> is still in the proc root.
func (s *scanner) exists(dirfd int, pid int64) bool {
	s.path = append(strconv.AppendInt(s.path[:0], pid, 10), 0)
	fd, err := openat(dirfd, s.path)
	if err != nil {
		return false
	}
	_ = unix.Close(fd) // only opened
	return true
}

// childrenByStat maps each parent to its children from the stat of every
// process of the walk that is not already known.
func (s *scanner) childrenByStat(dirfd int, known map[int64]bool) map[int64][]int64 {
	byParent := make(map[int64][]int64)
	var buf [20]byte
	for _, pid := range s.pids {
		if known[pid] {
			continue
		}
		st, err := s.readStat(dirfd, strconv.AppendInt(buf[:0], pid, 10))
		if err != nil {
			continue // gone: not a child of anything
		}
		byParent[st.ppid] = append(byParent[st.ppid], pid)
	}
	return byParent
}
