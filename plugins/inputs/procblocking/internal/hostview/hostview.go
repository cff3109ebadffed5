//go:build linux

// Package hostview decides, without privilege, whether a proc root shows
// the host's processes, and when it does not, says why and what fixes it:
// the procblocking input reports the answer with every scan as host_view.
package hostview

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// initPIDNamespace is how /proc/<pid>/ns/pid reads for a process of the
// kernel's initial PID namespace, the host's: its inode number is fixed
// (PROC_PID_INIT_INO, 0xEFFFFFFC).
const initPIDNamespace = "pid:[4026531836]"

// pfKthread marks a kernel thread in the flags of /proc/<pid>/stat
// (PF_KTHREAD). Kernel threads live in the initial PID namespace only, and
// no process can set the flag on itself.
const pfKthread = 0x00200000

// capSysPtrace is the capability that shows every process despite hidepid.
const capSysPtrace = 19

// Check tells whether the proc root shows the host's processes; when it
// does not, each warning names a cause and its fix.
func Check(root string) (hostView bool, warnings []string) {
	return judgeView(root, readViewFacts(root))
}

// viewFacts is what the agent can learn, without privilege, about how much
// of the host a proc root shows.
type viewFacts struct {
	// selfErr is why <root>/self does not name the agent, if it does not.
	selfErr error
	// nsLink is <root>/self/ns/pid: the agent's own PID namespace.
	nsLink string
	// nsLevels is the length of NSpid in <root>/self/status: 1 when the
	// root is the agent's own PID namespace, n when it is n-1 levels above
	// it. 0 when unknown.
	nsLevels int
	// kthreadd is true when <root>/2 is the kernel's kthreadd, which only
	// the initial PID namespace shows.
	kthreadd bool
	// mount is the mount holding the root, when the mount table could be
	// read; mountErr says why not.
	mount    procMount
	mountErr error
	// pid1Err is why <root>/1/status could not be read, if it could not.
	pid1Err error
	// Who the agent is, for hidepid: its uid, fsgid and supplementary
	// groups, and whether it may ptrace anything.
	uid       int
	groups    []int64
	canPtrace bool
}

// readViewFacts looks at the proc root and the agent itself.
func readViewFacts(root string) viewFacts {
	f := viewFacts{uid: os.Geteuid(), groups: []int64{int64(os.Getegid())}}
	if gids, err := os.Getgroups(); err == nil {
		for _, g := range gids {
			f.groups = append(f.groups, int64(g))
		}
	}
	f.canPtrace = hasCapability(capSysPtrace)

	if _, err := SelfPID(root); err != nil {
		f.selfErr = err
	} else {
		if link, err := os.Readlink(filepath.Join(root, "self", "ns", "pid")); err == nil {
			f.nsLink = link
		}
		if status, err := os.ReadFile(filepath.Join(root, "self", "status")); err == nil {
			f.nsLevels = nspidLevels(status)
		}
	}
	if b, err := os.ReadFile(filepath.Join(root, "2", "stat")); err == nil {
		f.kthreadd = isKthreadd(b)
	}
	if _, err := os.ReadFile(filepath.Join(root, "1", "status")); err != nil {
		f.pid1Err = err
	}
	f.mount, f.mountErr = rootMount(root)
	return f
}

// rootMount finds the mount holding the proc root in the agent's mount
// table: <root>/self/mountinfo, else /proc/self/mountinfo.
func rootMount(root string) (procMount, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return procMount{}, err
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	}
	table, err := os.ReadFile(filepath.Join(root, "self", "mountinfo"))
	if err != nil {
		var errSelf error
		if table, errSelf = os.ReadFile("/proc/self/mountinfo"); errSelf != nil {
			return procMount{}, errors.Join(err, errSelf)
		}
	}
	return findMount(table, abs)
}

func hasCapability(capability uint) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[capability/32].Effective&(1<<(capability%32)) != 0
}

// hostViewFix is what to do when the agent does not see the host's
// processes because of its PID namespace.
const hostViewFix = "Run the agent in the host's PID namespace (`pid: host` in Docker Compose, " +
	"`hostPID: true` in Kubernetes), or mount the host's /proc read-only into its container " +
	"and point HOST_PROC (or 'proc_root') at it"

// hidepidFix is what to do when hidepid hides processes from the agent.
const hidepidFix = "Mount /proc with the gid= option naming a group (e.g. hidepid=2,gid=procwatch) " +
	"and run the agent as a member of that group (`group_add` in Docker Compose), or as a user of that group"

// judgeView decides host_view from the facts: true when the proc root is the
// initial PID namespace's and hidepid hides nothing from the agent. Each
// reason for false comes with a warning that names the fix.
func judgeView(root string, f viewFacts) (bool, []string) {
	var warnings []string
	initial := f.nsLink == initPIDNamespace || f.kthreadd
	if !initial {
		var why string
		switch {
		case f.selfErr != nil:
			why = fmt.Sprintf("the agent's own process is not in it (%v), so it is another PID namespace's, or not a proc filesystem", f.selfErr)
		case f.nsLevels == 1:
			why = fmt.Sprintf("it is the agent's own PID namespace (%s), not the host's", f.nsLink)
		case f.nsLevels > 1:
			why = fmt.Sprintf("it is a PID namespace %d level(s) above the agent's, but not the host's: it shows no kernel threads", f.nsLevels-1)
		default:
			why = "neither its PID namespace nor kernel threads could be read"
		}
		warnings = append(warnings, fmt.Sprintf("Proc root %q does not show the host's processes: %s. "+
			"Processes outside it are never reported. %s", root, why, hostViewFix))
	}

	restricted := false
	switch {
	case f.mountErr == nil && f.mount.hidesProcesses():
		inGroup := f.mount.gid >= 0 && slices.Contains(f.groups, f.mount.gid) && !f.mount.ptraceableOnly()
		if !inGroup && !f.canPtrace {
			restricted = true
			warnings = append(warnings, fmt.Sprintf("Proc root %q is mounted with hidepid=%s: the agent (uid %d) sees only "+
				"its own user's processes, and reports no orphan state for a process whose parent is hidden. %s",
				root, f.mount.hidepid, f.uid, hidepidFix))
		}
	case f.pid1Err != nil:
		restricted = true
		warnings = append(warnings, fmt.Sprintf("Cannot read the status of PID 1 under proc root %q (%v): /proc may be "+
			"mounted with hidepid, hiding other users' processes from the agent. %s", root, f.pid1Err, hidepidFix))
	}
	return initial && !restricted, warnings
}

// SelfPID returns the PID <root>/self links to: the agent as the proc root
// sees it (procfs's FS.Self), which under HOST_PROC is not os.Getpid().
func SelfPID(root string) (int64, error) {
	link, err := os.Readlink(filepath.Join(root, "self"))
	if err != nil {
		return 0, err
	}
	pid, err := strconv.ParseInt(link, 10, 64)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s links to %q, not a PID", filepath.Join(root, "self"), link)
	}
	return pid, nil
}

// nspidLevels counts the PIDs of the "NSpid:" line of a /proc/<pid>/status:
// one per PID namespace the process is in. 0 when there is no such line.
func nspidLevels(status []byte) int {
	for line := range bytes.Lines(status) {
		if rest, ok := bytes.CutPrefix(line, []byte("NSpid:")); ok {
			return len(bytes.Fields(rest))
		}
	}
	return 0
}

// isKthreadd tells from a /proc/<pid>/stat whether the process is a kernel
// thread started by the kernel itself: parent 0 and PF_KTHREAD in its flags
// (fields 4 and 9, after the comm in parentheses, which may hold spaces).
func isKthreadd(stat []byte) bool {
	closing := bytes.LastIndexByte(stat, ')')
	if closing < 0 {
		return false
	}
	fields := bytes.Fields(stat[closing+1:])
	const fPPid, fFlags = 4, 9 // numbered as in proc(5); fields[0] is field 3
	if len(fields) <= fFlags-3 {
		return false
	}
	flags, err := strconv.ParseUint(string(fields[fFlags-3]), 10, 64)
	return err == nil && string(fields[fPPid-3]) == "0" && flags&pfKthread != 0
}
