package telegram_actions

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/influxdata/telegraf"

	"github.com/procblocking/procblocking/internal/atomicfile"
	"github.com/procblocking/procblocking/internal/filelock"
	"github.com/procblocking/procblocking/internal/streak"
)

// offsetFile keeps the offset of the next update to handle, so that a
// restart confirms what was handled before and replays no press. It is
// locked (<file>.lock) while the input runs: two agents polling one bot
// from one state directory would take each other's updates.
type offsetFile struct {
	path string
	lock *os.File
	log  telegraf.Logger
	// next is the update_id to ask for next; 0: none handled yet.
	next int64
	// known: the file existed, so the updates pending at the start are
	// newer than what was handled and are handled; without it they are
	// from before the first start and skipped.
	known bool
	// writes logs a streak of failed writes once.
	writes streak.Failures
}

type offsetContent struct {
	Version int   `json:"version"`
	Offset  int64 `json:"offset"`
}

func openOffsetFile(path string, log telegraf.Logger) (*offsetFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("invalid 'offset_file' %q: creating its directory: %w", path, err)
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("invalid 'offset_file' %q: lock file: %w", path, err)
	}
	if err := filelock.TryLock(lock); err != nil {
		_ = lock.Close()
		if errors.Is(err, filelock.ErrHeld) {
			return nil, fmt.Errorf("invalid 'offset_file' %q: in use by another inputs.telegram_actions (only one poller per bot token can work)", path)
		}
		return nil, fmt.Errorf("invalid 'offset_file' %q: locking: %w", path, err)
	}
	f := &offsetFile{path: path, lock: lock, log: log}
	res, err := atomicfile.Load(path, 1<<10, atomicfile.MoveIrregular, func(data []byte) error {
		var c offsetContent
		if err := json.Unmarshal(data, &c); err != nil {
			return err
		}
		if c.Version != 1 || c.Offset < 0 {
			return fmt.Errorf("version %d, offset %d", c.Version, c.Offset)
		}
		f.next, f.known = c.Offset, true
		return nil
	})
	// Unusable or unreadable: start as on a first start (pending presses
	// are skipped, not replayed); the evidence is kept.
	switch {
	case err != nil:
		log.Warnf("Offset file %q: %v; the updates pending now are skipped", path, err)
	case res.Unusable != nil:
		log.Warnf("Offset file %q is unusable (%v): moved to %q; the updates pending now are skipped", path, res.Unusable, res.Aside)
	}
	return f, nil
}

// save records that the updates before next are handled. A failing write
// is logged once per streak: at worst a restart handles some presses again.
func (f *offsetFile) save(next int64) {
	f.next, f.known = next, true
	data, _ := json.Marshal(offsetContent{Version: 1, Offset: next}) // plain types: always encodes
	what := fmt.Sprintf("Writing offset file %q", f.path)
	if err := atomicfile.Write(f.path, append(data, '\n')); err != nil {
		f.writes.Fail(f.log, what, err, "a restart may handle the last presses again")
		return
	}
	f.writes.OK(f.log, what)
}

func (f *offsetFile) close() {
	if f.lock != nil {
		_ = f.lock.Close()
		f.lock = nil
	}
}
