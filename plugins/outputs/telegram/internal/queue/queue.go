// Package queue is the output's durable queue: the events waiting for
// delivery, oldest first, in memory and, with a state directory, in an
// append-only file there that survives a crash, locked so that no other
// output sends them too.
package queue

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/influxdata/telegraf"

	"github.com/procblocking/procblocking/internal/streak"
)

const (
	// maxQueued and maxQueuedBytes bound the queue: beyond them the oldest
	// events are dropped, and said so. Telegraf's own buffer holds 10,000
	// metrics by default.
	maxQueued      = 10_000
	maxQueuedBytes = 32 << 20
	// maxSeen is how many identities of accepted events are remembered to
	// refuse a batch Telegraf sends again.
	maxSeen = 10_000
)

// Event is what the queue keeps of a metric: enough to send and thread it.
type Event struct {
	Seq  uint64 `json:"seq"`
	ID   uint64 `json:"id"` // identity of the metric: a resent one is the same
	Kind string `json:"event,omitempty"`
	Text string `json:"text"`
	// AlertIDs is the alert_id of a job's event, or the alert_ids of a
	// digest: the jobs whose thread the event belongs to.
	AlertIDs []string `json:"alert_ids,omitempty"`
	// ReplyTo is the message the event answers (the /status command of a
	// status event); 0: none.
	ReplyTo int64 `json:"reply_to,omitempty"`
}

// Queue holds the events waiting for delivery, oldest first, in memory and,
// with a state directory, in a file. Write pushes, the sender reads the head
// and removes what it has finished with; it is safe for concurrent use.
type Queue struct {
	mu      sync.Mutex
	events  []Event
	bytes   int // text bytes of events
	lastSeq uint64
	seen    recentSet
	file    *queueFile // nil: in memory only
	disk    streak.Failures
	log     telegraf.Logger
	// queued counts the events in events by identity, to tell a writer
	// which of its events are still waiting.
	queued map[uint64]int

	// wake holds a token when events were pushed since the sender last
	// looked.
	wake chan struct{}
	// changed is closed, and replaced, when events leave the queue or the
	// sender's state changes: writers waiting for a delivery look again.
	changed chan struct{}
	// recreate makes the state directory again when the queue file was
	// deleted under the output; nil without a state directory.
	recreate func() error
	// recreated is set when the directory was made again: what else it
	// held (the threads) must be written to it anew.
	recreated atomic.Bool
}

// New returns a queue kept in memory only.
func New(log telegraf.Logger) *Queue { return newQueue(log, nil, queueState{}) }

func newQueue(log telegraf.Logger, file *queueFile, st queueState) *Queue {
	q := &Queue{file: file, log: log, lastSeq: st.lastSeq, wake: make(chan struct{}, 1),
		queued: map[uint64]int{}, changed: make(chan struct{})}
	for _, id := range st.seen {
		q.seen.add(id)
	}
	q.events = st.events
	for _, ev := range q.events {
		q.bytes += len(ev.Text)
		q.queued[ev.ID]++
	}
	if len(q.events) > 0 {
		q.signal()
	}
	if file != nil && file.stale {
		q.disk.Failed() // the start could not write it: say when it works
	}
	return q
}

func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Push queues the events not accepted before and returns how many it
// queued. With a file, they are on disk when it returns.
func (q *Queue) Push(evs []Event) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	var lines []byte
	added, superseded := 0, 0
	before := q.lastSeq // events of this batch go out together, in order
	for _, ev := range evs {
		if q.seen.has(ev.ID) {
			continue
		}
		if ev.Kind == "recovery" {
			superseded += q.supersede(ev.AlertIDs, before)
		}
		q.seen.add(ev.ID)
		q.lastSeq++
		ev.Seq = q.lastSeq
		q.events = append(q.events, ev)
		q.bytes += len(ev.Text)
		q.queued[ev.ID]++
		lines = append(lines, encodeRecord(record{Add: &ev})...)
		added++
	}
	if superseded > 0 {
		q.log.Infof("Dropped %d alert and realert event(s) not yet sent: their job's recovery, queued now, tells the end of the story", superseded)
		if q.file != nil {
			q.file.stale = true // an event left the middle: rewrite the file whole
		}
		q.notifyLocked()
	}
	if added == 0 {
		return 0
	}
	if n := q.overflow(); n > 0 {
		q.log.Errorf("Queue full (%d events, %d bytes at most): dropped the %d oldest undelivered events",
			maxQueued, maxQueuedBytes, n)
		lines = append(lines, encodeRecord(record{Done: q.events[0].Seq - 1})...)
	}
	q.persist(lines)
	q.signal()
	return added
}

// overflow drops the oldest events beyond the bounds, and returns how many.
func (q *Queue) overflow() int {
	n := 0
	for len(q.events)-n > 1 && (len(q.events)-n > maxQueued || q.bytes > maxQueuedBytes) {
		q.bytes -= len(q.events[n].Text)
		q.unqueue(q.events[n].ID)
		n++
	}
	q.events = q.events[n:]
	return n
}

// supersede removes the alerts and realerts queued up to seq upto (by
// earlier writes: still waiting, so Telegram is down or backed up) whose
// jobs are all among ids, the jobs of a recovery: the recovery tells the
// end of the story, and the stale alert would wake someone for a job that
// has ended. The head stays: the sender may be sending it. It returns how
// many it removed.
func (q *Queue) supersede(ids []string, upto uint64) int {
	if len(ids) == 0 || len(q.events) < 2 {
		return 0
	}
	n, head := 0, q.events[0].Seq
	q.events = slices.DeleteFunc(q.events, func(ev Event) bool {
		if ev.Seq == head || ev.Seq > upto || (ev.Kind != "alert" && ev.Kind != "realert") || len(ev.AlertIDs) == 0 {
			return false
		}
		for _, id := range ev.AlertIDs {
			if !slices.Contains(ids, id) {
				return false
			}
		}
		q.bytes -= len(ev.Text)
		q.unqueue(ev.ID)
		n++
		return true
	})
	return n
}

func (q *Queue) unqueue(id uint64) {
	if q.queued[id]--; q.queued[id] <= 0 {
		delete(q.queued, id)
	}
}

// Waiting returns how many of ids are still queued, and a channel closed at
// the next change.
func (q *Queue) Waiting(ids []uint64) (int, <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, id := range ids {
		if q.queued[id] > 0 {
			n++
		}
	}
	return n, q.changed
}

// Notify wakes the writers waiting for a delivery: the sender's state
// changed.
func (q *Queue) Notify() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.notifyLocked()
}

func (q *Queue) notifyLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// Head returns up to n events from the oldest.
func (q *Queue) Head(n int) []Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]Event(nil), q.events[:min(n, len(q.events))]...)
}

// Len is how many events wait.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.events)
}

// Done removes the events up to seq, delivered or dropped for good.
func (q *Queue) Done(seq uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := 0
	for i < len(q.events) && q.events[i].Seq <= seq {
		q.bytes -= len(q.events[i].Text)
		q.unqueue(q.events[i].ID)
		i++
	}
	if i == 0 {
		return
	}
	q.events = q.events[i:]
	q.notifyLocked()
	q.persist(encodeRecord(record{Done: seq}))
}

// persist appends lines to the file, or rewrites it whole when an earlier
// write failed or the delivered records pile up. A failure leaves the queue
// working from memory, with one warning per streak of failures.
func (q *Queue) persist(lines []byte) {
	if q.file == nil {
		return
	}
	err := q.file.append(lines)
	if errors.Is(err, errFileGone) && q.recreate != nil {
		q.log.Errorf("The queue file %q was deleted (or replaced) while the output ran: making the state directory again, rewriting the queue and taking the lock again",
			q.file.path)
		if rerr := q.recreate(); rerr != nil {
			err = rerr
		} else {
			q.recreated.Store(true)
		}
	}
	if err != nil || q.file.size > q.liveBytes()+compactGarbage {
		err = q.file.rewrite(q.state())
	}
	if err != nil {
		q.disk.Fail(q.log, "Writing the queue file", err, "undelivered events are kept in memory only until it works again")
		return
	}
	q.disk.OK(q.log, "Writing the queue file")
}

// liveBytes estimates the size of a rewritten file.
func (q *Queue) liveBytes() int64 {
	return int64(q.bytes) + int64(len(q.events))*160 + int64(q.seen.len())*21 + 64
}

func (q *Queue) state() queueState {
	return queueState{events: q.events, seen: q.seen.list(), lastSeq: q.lastSeq}
}

// Persistent reports whether the queue is kept in a file.
func (q *Queue) Persistent() bool { return q.file != nil }

// Wake holds a token when events were pushed since the sender last looked.
func (q *Queue) Wake() <-chan struct{} { return q.wake }

// Recreated reports, once, that the state directory was made again: what
// else it held must be written to it anew.
func (q *Queue) Recreated() bool { return q.recreated.Swap(false) }

// Close closes the file. Every write was synced: closing loses nothing.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.file != nil {
		q.file.close()
	}
}

// recentSet remembers the last maxSeen identities.
type recentSet struct {
	order []uint64
	set   map[uint64]struct{}
}

func (r *recentSet) has(id uint64) bool {
	_, ok := r.set[id]
	return ok
}

func (r *recentSet) add(id uint64) {
	if r.set == nil {
		r.set = make(map[uint64]struct{})
	}
	if r.has(id) {
		return
	}
	if len(r.order) >= maxSeen {
		delete(r.set, r.order[0])
		r.order = r.order[1:]
	}
	r.order = append(r.order, id)
	r.set[id] = struct{}{}
}

func (r *recentSet) len() int { return len(r.order) }

func (r *recentSet) list() []uint64 { return append([]uint64(nil), r.order...) }
