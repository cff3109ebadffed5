package queue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/influxdata/telegraf"

	"github.com/procblocking/procblocking/internal/filelock"
)

// ErrDirInUse: another output (in this process or another) holds the
// state directory. Two queues in one file would send events twice.
var ErrDirInUse = errors.New("in use by another outputs.telegram (give each its own)")

// Dir is the output's state directory, locked while the output runs:
//
//	lock          locked (flock, LockFileEx), empty
//	queue.log     the queue (file.go)
//	threads.json  alert_id → first alert message (package threads)
//	chat.json     a group's upgrade to a supergroup (package threads)
type Dir struct {
	path string
	log  telegraf.Logger

	mu   sync.Mutex
	lock *os.File
}

// OpenDir creates the directory if needed, locks it and loads the queue
// from its file. A queue that can be read but not written (a full disk, a
// read-only remount) is loaded all the same: its events are delivered from
// memory while every later write tries the directory again. It logs what
// loading had to skip or move aside. A directory deleted under the running
// output is made again, and locked again, at the queue's next write.
func OpenDir(path string, log telegraf.Logger) (*Dir, *Queue, error) {
	mkErr := os.MkdirAll(path, 0o700)
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		return nil, nil, errors.Join(mkErr, err)
	}
	d := &Dir{path: path, log: log}
	if err := d.relock(); err != nil {
		return nil, nil, err
	}
	queuePath := filepath.Join(path, "queue.log")
	qf, st, res, err := openQueueFile(queuePath)
	switch {
	case qf == nil:
		d.Close()
		return nil, nil, fmt.Errorf("queue file %q: %w", queuePath, err)
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
	q := newQueue(log, qf, st)
	q.recreate = d.recreate
	return d, q, nil
}

// relock takes the lock, on a lock file made anew if it is gone. A lock
// file that cannot be created on a read-only directory is opened for
// reading: the lock works all the same.
func (d *Dir) relock() error {
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
			return fmt.Errorf("invalid 'state_directory' %q: %w", d.path, ErrDirInUse)
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
func (d *Dir) recreate() error {
	if err := os.MkdirAll(d.path, 0o700); err != nil {
		return err
	}
	return d.relock()
}

// ThreadsPath is where the threads are kept.
func (d *Dir) ThreadsPath() string { return filepath.Join(d.path, "threads.json") }

// MigrationPath is where a group's upgrade to a supergroup is kept.
func (d *Dir) MigrationPath() string { return filepath.Join(d.path, "chat.json") }

// Close releases the lock (the file holds nothing).
func (d *Dir) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lock != nil {
		_ = d.lock.Close()
		d.lock = nil
	}
}
