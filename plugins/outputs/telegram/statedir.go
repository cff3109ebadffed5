package telegram

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/influxdata/telegraf"
)

// errStateDirInUse: another output (in this process or another) holds the
// state directory. Two queues in one file would send events twice.
var errStateDirInUse = errors.New("in use by another outputs.telegram (give each its own)")

// errLockHeld: the lock file is locked by another open file.
var errLockHeld = errors.New("locked")

// stateDir is the output's state directory, locked while the output runs:
//
//	lock          flock'ed, empty
//	queue.log     the queue (queuefile.go)
//	threads.json  alert_id → first alert message (threads.go)
type stateDir struct {
	path string
	lock *os.File
}

// openStateDir creates the directory if needed, locks it and loads the
// queue file. It logs what loading had to skip or move aside.
func openStateDir(path string, log telegraf.Logger) (*stateDir, *queueFile, queueState, error) {
	var st queueState
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, nil, st, err
	}
	lock, err := os.OpenFile(filepath.Join(path, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, st, err
	}
	if err := tryLock(lock); err != nil {
		_ = lock.Close()
		if errors.Is(err, errLockHeld) {
			return nil, nil, st, fmt.Errorf("invalid 'state_directory' %q: %w", path, errStateDirInUse)
		}
		return nil, nil, st, fmt.Errorf("locking: %w", err)
	}
	d := &stateDir{path: path, lock: lock}
	queuePath := filepath.Join(path, "queue.log")
	qf, st, res, err := openQueueFile(queuePath)
	if err != nil {
		d.close()
		return nil, nil, st, fmt.Errorf("queue file %q: %w", queuePath, err)
	}
	if res.aside != "" {
		log.Warnf("Queue file %q was unusable (%v): moved to %q; the events in it are lost", queuePath, res.why, res.aside)
	}
	if res.damaged > 0 {
		log.Warnf("Queue file %q: skipped %d damaged line(s) (a crash cut the last write short, or the file is corrupt); an event in one is lost, a delivery in one is sent again",
			queuePath, res.damaged)
	}
	return d, qf, st, nil
}

func (d *stateDir) threadsPath() string { return filepath.Join(d.path, "threads.json") }

// close releases the lock (the file holds nothing).
func (d *stateDir) close() { _ = d.lock.Close() }
