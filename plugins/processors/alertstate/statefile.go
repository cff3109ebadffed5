package alertstate

import (
	"errors"
	"io/fs"

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
	if n := atomicfile.RemoveTemps(a.StateFile); n > 0 {
		a.Log.Infof("Removed %d temporary file(s) of an interrupted state write next to %q", n, a.StateFile)
	}
	data, err := atomicfile.Read(a.StateFile, stateFileLimit)
	if errors.Is(err, fs.ErrNotExist) {
		return machine.State{}, false
	}
	var st machine.State
	if err == nil {
		if st, err = machine.Decode(data); err == nil {
			return st, true
		}
	}
	switch {
	case errors.Is(err, atomicfile.ErrNotRegular):
		a.Log.Warnf("State file %q is unusable (%v), starting with an empty state; the next write replaces it with a regular file", a.StateFile, err)
	default:
		if aside, merr := atomicfile.MoveAside(a.StateFile); merr == nil {
			a.Log.Warnf("State file %q is unusable (%v): moved it to %q, starting with an empty state", a.StateFile, err, aside)
		} else {
			a.Log.Warnf("State file %q is unusable (%v), starting with an empty state", a.StateFile, err)
		}
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
	if err != nil {
		// Keep working from memory and retry after the next scan; one
		// warning per streak of failures.
		if !a.writeFailing {
			a.Log.Warnf("Writing state file %q failed, keeping the state in memory only: %v", a.StateFile, err)
			a.writeFailing = true
		}
		return
	}
	if a.writeFailing {
		a.Log.Infof("Writing state file %q works again", a.StateFile)
		a.writeFailing = false
	}
	a.machine.MarkSaved()
}
