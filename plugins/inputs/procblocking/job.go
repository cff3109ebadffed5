//go:build linux

package procblocking

// assignJobs sets the job of every reported process in procs (one scan's
// matches, young ones included): the topmost process of its chain of
// parents that all match. A process whose parent does not match is the top
// of its own job. A parent that started after its child is not its parent
// (its PID was reused), so the chain stops there. The work is per match;
// processes that do not match cost nothing here.
func assignJobs(procs []procInfo) {
	if len(procs) == 0 {
		return
	}
	index := make(map[int64]int, len(procs))
	for i := range procs {
		index[procs[i].pid] = i
	}
	for i := range procs {
		if procs[i].young {
			continue
		}
		top := i
		// A chain is at most as long as the matches; the bound also ends
		// a cycle, which a damaged or fake tree could hold.
		for range len(procs) {
			parent, ok := index[procs[top].stat.ppid]
			if !ok || parent == top || procs[parent].createdAtNs > procs[top].createdAtNs {
				break
			}
			top = parent
		}
		procs[i].jobPID = procs[top].pid
		procs[i].jobCreatedAtNs = procs[top].createdAtNs
	}
}
