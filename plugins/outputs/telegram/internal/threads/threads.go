// Package threads keeps, across restarts, where each job's thread is in the
// chat: the message its first alert went to (threads.json), and the chat's
// new id after a group's upgrade to a supergroup (chat.json).
package threads

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/influxdata/telegraf"

	"github.com/procblocking/procblocking/internal/atomicfile"
	"github.com/procblocking/procblocking/internal/streak"
)

// threadFileVersion is the format of the threads file.
const threadFileVersion = 1

const (
	// maxThreads and maxThreadTextBytes bound the threads remembered: beyond
	// them the oldest are forgotten (their later realerts and recovery are
	// then sent as plain messages).
	maxThreads         = 10_000
	maxThreadTextBytes = 16 << 20
	maxThreadFileBytes = 2*maxThreadTextBytes + 4<<20
)

// Ref is where a job's first alert went: its realerts and recovery reply to
// that message.
type Ref struct {
	Chat      string `json:"chat"`
	MessageID int64  `json:"message_id"`
	// Text is the alert's message, kept to mark it resolved on recovery
	// (edit_alert_on_recovery) when the message carried that alert only.
	Text string `json:"text,omitempty"`
	// Note is the last note from the chat (an ack, a snooze) shown under
	// Text, kept so that marking the alert resolved does not erase it.
	Note string `json:"note,omitempty"`
	At   int64  `json:"at"` // unix seconds it was recorded: the oldest go first when full
}

// size is what a thread counts against maxThreadTextBytes.
func (r Ref) size() int { return len(r.Text) + len(r.Note) }

type threadFile struct {
	Version int            `json:"version"`
	Threads map[string]Ref `json:"threads"`
}

// Map maps alert_id to the message that started the job's thread, in
// memory and, with a state directory, in a file rewritten (atomicfile) on
// each change. Only the sender uses it.
type Map struct {
	path  string // "": memory only
	refs  map[string]Ref
	bytes int // text bytes of refs
	disk  streak.Failures
	log   telegraf.Logger
}

// Load reads path ("" for memory only). A file that is not a regular file,
// too large, or not a threads file is moved aside with a warning and the
// threads start empty; other errors (permission denied) are returned.
func Load(path string, log telegraf.Logger) (*Map, error) {
	t := &Map{path: path, refs: map[string]Ref{}, log: log}
	if path == "" {
		return t, nil
	}
	res, err := atomicfile.Load(path, maxThreadFileBytes, atomicfile.MoveIrregular, t.decode)
	if err != nil {
		return nil, err
	}
	if res.Unusable != nil {
		log.Warnf("Threads file %q is unusable (%v): moved to %q; realerts and recoveries of earlier alerts will not be replies", path, res.Unusable, res.Aside)
		clear(t.refs)
		t.bytes = 0
	}
	return t, nil
}

func (t *Map) decode(data []byte) error {
	var f threadFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return err
	}
	if f.Version != threadFileVersion {
		return fmt.Errorf("format version %d, want %d", f.Version, threadFileVersion)
	}
	for id, ref := range f.Threads {
		if id == "" || ref.MessageID <= 0 || ref.Chat == "" {
			return fmt.Errorf("invalid entry %q", id)
		}
		t.refs[id] = ref
		t.bytes += ref.size()
	}
	return nil
}

// Lookup is where the thread of the job with alertID is.
func (t *Map) Lookup(alertID string) (Ref, bool) {
	ref, ok := t.refs[alertID]
	return ref, ok
}

// Record points each of alertIDs at ref.
func (t *Map) Record(alertIDs []string, ref Ref) {
	for _, id := range alertIDs {
		t.bytes -= t.refs[id].size()
		t.refs[id] = ref
		t.bytes += ref.size()
	}
	t.evict()
}

// SetNote records the note now shown under the alert's text.
func (t *Map) SetNote(alertID, note string) {
	if ref, ok := t.refs[alertID]; ok {
		t.bytes -= ref.size()
		ref.Note = note
		t.refs[alertID] = ref
		t.bytes += ref.size()
	}
}

// Forget drops alertIDs (their job recovered) and returns what they were.
func (t *Map) Forget(alertIDs []string) map[string]Ref {
	gone := map[string]Ref{}
	for _, id := range alertIDs {
		if ref, ok := t.refs[id]; ok {
			gone[id] = ref
			t.bytes -= ref.size()
			delete(t.refs, id)
		}
	}
	return gone
}

// evict forgets the oldest threads when there are too many: down to 90% of
// the bounds, so that the sort is not paid on every record.
func (t *Map) evict() {
	if len(t.refs) <= maxThreads && t.bytes <= maxThreadTextBytes {
		return
	}
	ids := slices.SortedFunc(maps.Keys(t.refs), func(a, b string) int {
		return cmp.Compare(t.refs[a].At, t.refs[b].At)
	})
	for _, id := range ids {
		if len(t.refs) <= maxThreads*9/10 && t.bytes <= maxThreadTextBytes*9/10 {
			break
		}
		t.bytes -= t.refs[id].size()
		delete(t.refs, id)
	}
}

// Save writes the threads to the file; a failure keeps them in memory, with
// one warning per streak of failures.
func (t *Map) Save() {
	if t.path == "" {
		return
	}
	data, err := json.Marshal(threadFile{Version: threadFileVersion, Threads: t.refs})
	if err == nil {
		err = atomicfile.Write(t.path, data)
	}
	if err != nil {
		t.disk.Fail(t.log, "Writing the threads file", err, "threads are kept in memory only until it works again")
		return
	}
	t.disk.OK(t.log, "Writing the threads file")
}
