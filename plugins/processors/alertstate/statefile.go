package alertstate

import (
	"fmt"

	"github.com/procblocking/procblocking/internal/atomicfile"
	"github.com/procblocking/procblocking/plugins/processors/alertstate/internal/machine"
)

// stateFileLimit bounds what is read of a state file: far above the state
// of thousands of alerted jobs, far below what would hurt the agent.
const stateFileLimit = 64 << 20

// loadStateFile reads the state file. A missing file is an empty state; an
// unusable one is logged, moved aside to <file>.corrupt when it is a regular
// file (the evidence is kept), and the processor starts empty.
func (a *AlertState) loadStateFile() (machine.State, bool) {
	var st machine.State
	res, err := atomicfile.Load(a.StateFile, stateFileLimit, atomicfile.LeaveIrregular, func(data []byte) (err error) {
		st, err = machine.Decode(data)
		return err
	})
	if res.Temps > 0 {
		a.Log.Infof("Removed %d temporary file(s) of an interrupted state write next to %q", res.Temps, a.StateFile)
	}
	switch {
	case err != nil:
		a.Log.Warnf("State file %q is unusable (%v), starting with an empty state", a.StateFile, err)
	case res.Aside != "":
		a.Log.Warnf("State file %q is unusable (%v): moved it to %q, starting with an empty state", a.StateFile, res.Unusable, res.Aside)
	case res.Unusable != nil:
		a.Log.Warnf("State file %q is unusable (%v), starting with an empty state; the next write replaces it with a regular file", a.StateFile, res.Unusable)
	default:
		return st, res.Found
	}
	return machine.State{}, false
}

// save writes the state after a scan that changed it.
func (a *AlertState) save() {
	if a.StateFile == "" {
		a.machine.MarkSaved()
		return
	}
	data, err := machine.Encode(a.machine.Snapshot())
	if err == nil {
		err = atomicfile.Write(a.StateFile, data)
	}
	what := fmt.Sprintf("Writing state file %q", a.StateFile)
	if err != nil {
		// Keep working from memory and retry after the next scan.
		a.writes.Fail(a.Log, what, err, "keeping the state in memory only")
		return
	}
	a.writes.OK(a.Log, what)
	a.machine.MarkSaved()
}
