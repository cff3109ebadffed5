package telegram

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/influxdata/telegraf"

	"github.com/procblocking/procblocking/internal/filelock"
)

// errStateDirInUse: another output (in this process or another) holds the
// state directory. Two queues in one file would send events twice.
var errStateDirInUse = errors.New("in use by another outputs.telegram (give each its own)")

// stateDir is the output's state directory, locked while the output runs:
//
//	lock          locked (flock, LockFileEx), empty
//	queue.log     the queue (queuefile.go)
//	threads.json  alert_id → first alert message (threads.go)
//	chat.json     a group's upgrade to a supergroup (migration.go)
type stateDir struct {
	path string
	log  telegraf.Logger

	mu   sync.Mutex
	lock *os.File
}

// openStateDir creates the directory if needed, locks it and loads the
// queue file. A queue that can be read but not written (a full disk, a
// read-only remount) is loaded all the same: its events are delivered from
// memory while every later write tries the directory again. It logs what
// loading had to skip or move aside.
func openStateDir(path string, log telegraf.Logger) (*stateDir, *queueFile, queueState, error) {
	var st queueState
	mkErr := os.MkdirAll(path, 0o700)
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		return nil, nil, st, errors.Join(mkErr, err)
	}
	d := &stateDir{path: path, log: log}
	if err := d.relock(); err != nil {
		return nil, nil, st, err
	}
	queuePath := filepath.Join(path, "queue.log")
	qf, st, res, err := openQueueFile(queuePath)
	switch {
	case qf == nil:
		d.close()
		return nil, nil, st, fmt.Errorf("queue file %q: %w", queuePath, err)
	case err != nil:
		log.Errorf("Cannot write the queue file %q: %v; delivering the %d event(s) queued in it from memory, and trying the directory again at each write (until then a crash loses the events accepted since)",
			queuePath, err, len(st.events))
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

// relock takes the lock, on a lock file made anew if it is gone. A lock
// file that cannot be created on a read-only directory is opened for
// reading: the lock works all the same.
func (d *stateDir) relock() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	name := filepath.Join(d.path, "lock")
	lock, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		var rerr error
		if lock, rerr = os.Open(name); rerr != nil {
			return fmt.Errorf("lock file: %w", err)
		}
	}
	if err := filelock.TryLock(lock); err != nil {
		_ = lock.Close()
		if errors.Is(err, filelock.ErrHeld) {
			return fmt.Errorf("invalid 'state_directory' %q: %w", d.path, errStateDirInUse)
		}
		return fmt.Errorf("locking: %w", err)
	}
	if d.lock != nil {
		_ = d.lock.Close()
	}
	d.lock = lock
	return nil
}

// recreate makes the directory again after it was deleted under the running
// output, and takes the lock on a new lock file: the old one went with the
// directory, and another output could have taken the path.
func (d *stateDir) recreate() error {
	if err := os.MkdirAll(d.path, 0o700); err != nil {
		return err
	}
	return d.relock()
}

func (d *stateDir) threadsPath() string   { return filepath.Join(d.path, "threads.json") }
func (d *stateDir) migrationPath() string { return filepath.Join(d.path, "chat.json") }

// close releases the lock (the file holds nothing).
func (d *stateDir) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lock != nil {
		_ = d.lock.Close()
		d.lock = nil
	}
}
