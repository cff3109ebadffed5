//go:build linux

package procblocking

// assignJobs sets the job of every process in procs (one scan's matches and
// their descendants, young ones included): the topmost process of its chain
// of parents in procs, which is a match, since a descendant is only there
// under one. A match whose parent is not in procs is the top of its own job.
// A parent that started after its child is not its parent (its PID was
// reused), so the chain stops there. A descendant that matches no pattern
// takes its job's pattern. The work is per process of a job; processes
// that are not in one cost nothing here.
func assignJobs(procs []procInfo) {
	if len(procs) == 0 {
		return
	}
	index := make(map[int64]int, len(procs))
	for i := range procs {
		index[procs[i].pid] = i
	}
	for i := range procs {
		top := i
		// A chain is at most as long as the processes; the bound also ends
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
		if procs[i].descendant {
			procs[i].pattern = procs[top].pattern
		}
	}
}

// jobFigures are a job's processes together: the top and everything below
// it, young ones included.
type jobFigures struct {
	processes   int64
	cpuSeconds  float64
	rssPages    int64
	cpuUsage    float64
	hasCPUUsage bool
}

// sumJobs adds up each job of procs (after assignJobs) that has more than
// one process, keyed by the PID of its top; a job of one process has that
// process's own figures. usage and hasUsage are each process's cpu_usage,
// by index.
func sumJobs(procs []procInfo, usage []float64, hasUsage []bool) map[int64]jobFigures {
	var jobs map[int64]jobFigures
	for i := range procs {
		if procs[i].jobPID != procs[i].pid {
			jobs = make(map[int64]jobFigures)
			break
		}
	}
	if jobs == nil {
		return nil
	}
	for i := range procs {
		j := jobs[procs[i].jobPID]
		j.processes++
		j.cpuSeconds += procs[i].cpuSeconds
		j.rssPages += procs[i].stat.rssPages
		if hasUsage[i] {
			j.cpuUsage += usage[i]
			j.hasCPUUsage = true
		}
		jobs[procs[i].jobPID] = j
	}
	return jobs
}
