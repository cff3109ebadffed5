package procblocking

// orphanState is whether a process is an orphan, or that it is not known.
type orphanState uint8

const (
	// orphanUnknown: the parent's status could not be read (it exited, or
	// hidepid hides it); the orphan field is left out.
	orphanUnknown orphanState = iota
	orphanNo
	orphanYes
)

// isNamespaceInit tells from a /proc/<pid>/status whether that process is the
// init of its own PID namespace: PID 1 as seen from the innermost namespace.
func isNamespaceInit(status []byte) (bool, error) {
	pids, err := parseNSpid(status)
	if err != nil {
		return false, err
	}
	return pids[len(pids)-1] == 1, nil
}

// parentCache remembers for one scan whether each parent is a namespace
// init, since many matches share a parent (the same tini, the same shell).
type parentCache map[int64]orphanState

// isOrphan tells whether a process with parent ppid is an orphan: its parent
// is host PID 1 or a container's init. Failed lookups are not remembered.
func (c parentCache) isOrphan(ppid int64, readStatus func(pid int64) ([]byte, error)) (orphanState, error) {
	if ppid <= 0 {
		// PID 1 itself and kernel threads have no parent to be orphaned from.
		return orphanNo, nil
	}
	if v, ok := c[ppid]; ok {
		return v, nil
	}
	b, err := readStatus(ppid)
	if err != nil {
		return orphanUnknown, err
	}
	nsInit, err := isNamespaceInit(b)
	if err != nil {
		return orphanUnknown, err
	}
	v := orphanNo
	if nsInit {
		v = orphanYes
	}
	c[ppid] = v
	return v, nil
}
