package queue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"strconv"

	"github.com/procblocking/procblocking/internal/atomicfile"
)

// The queue file is an append-only log of JSON records, one per line, each
// line prefixed with the CRC-32C of its JSON: a header (format version and
// the identities recently accepted), then one record per accepted event and
// one per delivery. Every append is fsynced before Write returns or the
// sender moves on. A line that a crash cut short, or that a bad sector
// damaged, fails its checksum: it is skipped and reported, and the lines
// around it still count. When the delivered records pile up, the file is
// rewritten with only what is still queued (atomicfile: the old or the new
// file, never half of one).

// queueFileVersion is the format of the queue file.
const queueFileVersion = 1

const (
	// maxQueueFileBytes bounds what is read at start: the queue's own bound
	// (maxQueuedBytes of text), the header and the garbage allowed before a
	// rewrite, with room to spare.
	maxQueueFileBytes = 2*maxQueuedBytes + 16<<20
	// compactGarbage is how many bytes of delivered records trigger a
	// rewrite.
	compactGarbage = 1 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// record is one line of the queue file: exactly one of its parts is set.
type record struct {
	Version int      `json:"v,omitempty"`
	Seq     uint64   `json:"seq,omitempty"` // header: the last seq used
	Seen    []uint64 `json:"seen,omitempty"`
	Add     *Event   `json:"add,omitempty"`
	Done    uint64   `json:"done,omitempty"` // every event up to this seq is finished
}

// encodeRecord is one line of the file, newline included.
func encodeRecord(r record) []byte {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false) // messages are full of '<', '>' and '&': keep them short
	_ = enc.Encode(r)        // a record of plain types always encodes
	js := bytes.TrimSuffix(body.Bytes(), []byte("\n"))
	line := make([]byte, 0, len(js)+10)
	line = fmt.Appendf(line, "%08x ", crc32.Checksum(js, crcTable))
	line = append(line, js...)
	return append(line, '\n')
}

// decodeRecord parses one line without its newline.
func decodeRecord(line []byte) (record, error) {
	var r record
	sum, js, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(sum) != 8 {
		return r, errors.New("no checksum")
	}
	want, err := strconv.ParseUint(string(sum), 16, 32)
	if err != nil || want != uint64(crc32.Checksum(js, crcTable)) {
		return r, errors.New("checksum mismatch")
	}
	if err := json.Unmarshal(js, &r); err != nil {
		return r, err
	}
	return r, nil
}

// queueState is what the file holds: the events still queued, oldest first,
// the identities recently accepted, oldest first, and the last seq used.
type queueState struct {
	events  []Event
	seen    []uint64
	lastSeq uint64
}

// loadResult tells what loading found besides the state.
type loadResult struct {
	damaged int    // lines skipped: cut short by a crash or corrupt
	aside   string // where an unusable file was moved, if it was
	why     error  // why it was unusable
}

// parseQueueFile reads the records of data. Damaged lines are counted and
// skipped; a header of another version makes the whole file unusable.
func parseQueueFile(data []byte) (queueState, int, error) {
	var st queueState
	damaged := 0
	first := true
	for line := range bytes.Lines(data) {
		body, complete := bytes.CutSuffix(line, []byte("\n"))
		if !complete {
			damaged++ // the tail a crash cut short
			break
		}
		r, err := decodeRecord(body)
		if err != nil {
			damaged++
			first = false
			continue
		}
		if r.Version != 0 {
			if r.Version != queueFileVersion {
				return queueState{}, 0, fmt.Errorf("format version %d, want %d", r.Version, queueFileVersion)
			}
			if first {
				st.seen = append(st.seen, r.Seen...)
				st.lastSeq = max(st.lastSeq, r.Seq)
			}
		}
		first = false
		switch {
		case r.Add != nil:
			st.events = append(st.events, *r.Add)
			st.seen = append(st.seen, r.Add.ID)
			st.lastSeq = max(st.lastSeq, r.Add.Seq)
		case r.Done != 0:
			i := 0
			for i < len(st.events) && st.events[i].Seq <= r.Done {
				i++
			}
			st.events = st.events[i:]
			st.lastSeq = max(st.lastSeq, r.Done)
		}
	}
	return st, damaged, nil
}

// queueFile is the open log.
type queueFile struct {
	path string
	f    *os.File
	size int64 // bytes in the file
	// stale is set when an append failed: the file may end in a partial
	// line and lacks records, so the next write rewrites it whole.
	stale bool
}

// openQueueFile loads path and rewrites it clean, ready for appends. A file
// that is not a regular file, too large, or of another format is moved aside
// and the queue starts empty; other errors (permission denied) are returned.
func openQueueFile(path string) (*queueFile, queueState, loadResult, error) {
	var res loadResult
	var st queueState
	loaded, err := atomicfile.Load(path, maxQueueFileBytes, atomicfile.MoveIrregular, func(data []byte) (err error) {
		st, res.damaged, err = parseQueueFile(data)
		return err
	})
	if err != nil {
		return nil, st, res, err
	}
	if loaded.Unusable != nil {
		res.aside, res.why = loaded.Aside, loaded.Unusable
		st = queueState{}
	}
	q := &queueFile{path: path}
	if err := q.rewrite(st); err != nil {
		// Read but not writable: the caller delivers st from memory, and
		// the next write rewrites the file (q is stale).
		return q, st, res, err
	}
	return q, st, res, nil
}

// errFileGone: the queue file was deleted or replaced under the running
// output (its directory removed, say): appends would go to a file nobody
// will read.
var errFileGone = errors.New("the queue file was deleted or replaced")

// gone reports whether the open file is no longer the one at path.
func (q *queueFile) gone() bool {
	if q.f == nil {
		return false
	}
	open, err := q.f.Stat()
	if err != nil {
		return false
	}
	there, err := os.Stat(q.path)
	return err != nil || !os.SameFile(open, there)
}

// append writes lines and syncs them.
func (q *queueFile) append(lines []byte) error {
	if q.f == nil || q.stale {
		return errors.New("queue file needs a rewrite")
	}
	if q.gone() {
		q.stale = true
		return errFileGone
	}
	n, err := q.f.Write(lines)
	q.size += int64(n)
	if err == nil {
		err = q.f.Sync()
	}
	if err != nil {
		q.stale = true
	}
	return err
}

// encodeState is the whole file for st: the header, then one record per
// event still queued.
func encodeState(st queueState) []byte {
	var buf bytes.Buffer
	buf.Write(encodeRecord(record{Version: queueFileVersion, Seq: st.lastSeq, Seen: st.seen}))
	for i := range st.events {
		buf.Write(encodeRecord(record{Add: &st.events[i]}))
	}
	return buf.Bytes()
}

// rewrite replaces the file by st (atomicfile) and reopens it for appends.
func (q *queueFile) rewrite(st queueState) error {
	data := encodeState(st)
	q.stale = true
	q.close()
	if err := atomicfile.Write(q.path, data); err != nil {
		return err
	}
	f, err := os.OpenFile(q.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	q.f, q.size, q.stale = f, int64(len(data)), false
	return nil
}

// close closes the file. Every write was synced: closing it loses nothing,
// whatever it reports.
func (q *queueFile) close() {
	if q.f != nil {
		_ = q.f.Close()
		q.f = nil
	}
}
