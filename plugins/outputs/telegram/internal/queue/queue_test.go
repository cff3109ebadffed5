package queue

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// testEvents are the alerts of jobs from to to: "🚨 event 1".., with a
// markup-like line that must come back as it went in.
func testEvents(from, to int) []Event {
	var evs []Event
	for i := from; i <= to; i++ {
		evs = append(evs, Event{ID: uint64(1000 + i), Kind: "alert", Text: fmt.Sprintf("🚨 event %d\n<&>", i), AlertIDs: []string{alertID(i)}})
	}
	return evs
}

func alertID(n int) string { return fmt.Sprintf("%016x", 0xa1e7000+n) }

func texts(evs []Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Text)
	}
	return out
}

// count is the number of lines logged at level containing every one of
// parts.
func count(log *testutil.CaptureLogger, level byte, parts ...string) int {
	n := 0
next:
	for _, m := range log.Messages() {
		if m.Level != level {
			continue
		}
		for _, p := range parts {
			if !strings.Contains(m.Text, p) {
				continue next
			}
		}
		n++
	}
	return n
}

func TestQueueBounded(t *testing.T) {
	log := &testutil.CaptureLogger{}
	q := New(log)
	var evs []Event
	for i := range maxQueued + 3 {
		evs = append(evs, Event{ID: uint64(i + 1), Text: fmt.Sprint("e", i)})
	}
	q.Push(evs)
	require.Equal(t, maxQueued, q.Len())
	require.Equal(t, "e3", q.Head(1)[0].Text, "the oldest are dropped")
	require.Equal(t, 1, count(log, testutil.LevelError, "Queue full", "dropped the 3 oldest"), log.Messages())

	q = New(log)
	big := strings.Repeat("y", 4<<20)
	for i := range 10 {
		q.Push([]Event{{ID: uint64(i + 1), Text: big}})
	}
	require.LessOrEqual(t, q.bytes, maxQueuedBytes)
	require.Equal(t, maxQueuedBytes/len(big), q.Len())
}

// A disk that fails (full, read-only) keeps the queue working from memory,
// with one warning for the whole streak, and the file catches up once the
// disk works again.
func TestQueueDiskFailureWorksFromMemory(t *testing.T) {
	dir := t.TempDir()
	log := &testutil.CaptureLogger{}
	d, q, err := OpenDir(dir, log)
	require.NoError(t, err)
	t.Cleanup(d.Close)
	t.Cleanup(q.Close)
	q.Push(testEvents(1, 1))

	// The disk fails: appends give ENOSPC, rewrites find no directory.
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	require.NoError(t, err)
	q.mu.Lock()
	realPath := q.file.path
	q.file.f.Close()
	q.file.f = full
	q.file.path = filepath.Join(dir, "gone", "queue.log")
	q.mu.Unlock()

	q.Push(testEvents(2, 2))
	q.Push(testEvents(3, 3))
	require.Equal(t, 1, count(log, testutil.LevelWarn, "Writing the queue file failed"), log.Messages())

	q.mu.Lock()
	q.file.path = realPath
	q.mu.Unlock()
	q.Push(testEvents(4, 4))
	require.Equal(t, 1, count(log, testutil.LevelInfo, "Writing the queue file works again after 2 failed attempts"), log.Messages())

	// Nothing was lost in memory: all four are delivered.
	evs := q.Head(10)
	require.Equal(t, texts(testEvents(1, 4)), texts(evs))
	q.Done(evs[3].Seq)
	q.Close()
	d.Close()
	d2, q2, err := OpenDir(dir, log)
	require.NoError(t, err)
	t.Cleanup(d2.Close)
	t.Cleanup(q2.Close)
	require.Zero(t, q2.Len(), "the file knows all four were delivered")
	require.Zero(t, q2.Push(testEvents(2, 2)), "and their identities")
}
