package procblocking

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
type parentCache map[int64]bool

// isOrphan tells whether a process with parent ppid is an orphan: its parent
// is host PID 1 or a container's init. Failed lookups are not remembered.
func (c parentCache) isOrphan(ppid int64, readStatus func(pid int64) ([]byte, error)) (bool, error) {
	if ppid <= 0 {
		// PID 1 itself and kernel threads have no parent to be orphaned from.
		return false, nil
	}
	if v, ok := c[ppid]; ok {
		return v, nil
	}
	b, err := readStatus(ppid)
	if err != nil {
		return false, err
	}
	v, err := isNamespaceInit(b)
	if err != nil {
		return false, err
	}
	c[ppid] = v
	return v, nil
}
