package queue

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// openTestQueue opens the queue file of dir as OpenDir does.
func openTestQueue(t *testing.T, dir string) (*Queue, loadResult) {
	t.Helper()
	qf, st, res, err := openQueueFile(filepath.Join(dir, "queue.log"))
	require.NoError(t, err)
	q := newQueue(&testutil.CaptureLogger{}, qf, st)
	t.Cleanup(q.Close)
	return q, res
}

func TestQueueFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	q, res := openTestQueue(t, dir)
	require.Zero(t, res.damaged)
	require.Equal(t, 5, q.Push(testEvents(1, 5)))
	require.Zero(t, q.Push(testEvents(2, 3)), "accepted already")
	q.Done(q.Head(2)[1].Seq)
	q.Close()

	q2, res := openTestQueue(t, dir)
	require.Zero(t, res.damaged)
	got := q2.Head(10)
	require.Equal(t, texts(testEvents(3, 5)), texts(got))
	require.Equal(t, []string{alertID(3)}, got[0].AlertIDs)
	require.Equal(t, uint64(3), got[0].Seq)
	require.Zero(t, q2.Push(testEvents(1, 5)), "identities of delivered and queued events are remembered")
	require.Equal(t, 1, q2.Push(testEvents(6, 6)))
	require.Equal(t, uint64(6), q2.Head(10)[3].Seq, "seq keeps counting up")

	// An emptied queue keeps its seq and identities across a restart.
	q2.Done(6)
	q2.Close()
	q3, _ := openTestQueue(t, dir)
	require.Zero(t, q3.Len())
	require.Zero(t, q3.Push(testEvents(1, 6)))
	require.Equal(t, 1, q3.Push(testEvents(7, 7)))
	require.Equal(t, uint64(7), q3.Head(1)[0].Seq)
}

// A crash in the middle of an append leaves a line cut short: the queue
// loads what is before it, says what it skipped, and goes on.
func TestQueueFileTornTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "queue.log")
	q, _ := openTestQueue(t, dir)
	q.Push(testEvents(1, 3))
	q.Close()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	line := encodeRecord(record{Add: &Event{Seq: 4, ID: 9, Text: "🚨 torn"}})
	for cut := 1; cut < len(line); cut += 7 {
		require.NoError(t, os.WriteFile(path, append(bytes.Clone(data), line[:cut]...), 0o600))
		q, res := openTestQueue(t, dir)
		require.Equal(t, 1, res.damaged, "cut at %d", cut)
		require.Equal(t, texts(testEvents(1, 3)), texts(q.Head(10)), "cut at %d", cut)
		q.Push(testEvents(5, 5))
		q.Close()
		q, res = openTestQueue(t, dir)
		require.Zero(t, res.damaged, "the file was rewritten clean")
		require.Equal(t, texts(append(testEvents(1, 3), testEvents(5, 5)...)), texts(q.Head(10)))
		q.Close()
	}
}

// A line damaged in the middle (a bad sector) costs that line only.
func TestQueueFileDamagedLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "queue.log")
	first, _ := openTestQueue(t, dir)
	first.Push(testEvents(1, 3))
	first.Close()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := bytes.SplitAfter(data, []byte("\n"))
	require.Len(t, lines, 5) // header, 3 events, ""
	lines[2] = bytes.Replace(lines[2], []byte("event 2"), []byte("event X"), 1)
	require.NoError(t, os.WriteFile(path, bytes.Join(lines, nil), 0o600))

	q, res := openTestQueue(t, dir)
	require.Equal(t, 1, res.damaged)
	require.Equal(t, []string{testEvents(1, 1)[0].Text, testEvents(3, 3)[0].Text}, texts(q.Head(10)))
}

func TestQueueFileUnusable(t *testing.T) {
	for name, setup := range map[string]func(path string) error{
		"other version": func(path string) error {
			return os.WriteFile(path, encodeRecord(record{Version: 9}), 0o600)
		},
		"fifo": func(path string) error { return syscall.Mkfifo(path, 0o600) },
		"directory": func(path string) error {
			return os.Mkdir(path, 0o700)
		},
		"too large": func(path string) error {
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			defer f.Close()
			return f.Truncate(maxQueueFileBytes + 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "queue.log")
			require.NoError(t, setup(path))
			q, res := openTestQueue(t, dir)
			require.Equal(t, path+".corrupt", res.aside)
			require.Error(t, res.why)
			require.Zero(t, q.Len())
			require.Equal(t, 2, q.Push(testEvents(1, 2)), "the queue works")
		})
	}
}

// Delivered records do not pile up: the file is rewritten with what is
// still queued.
func TestQueueFileCompacted(t *testing.T) {
	dir := t.TempDir()
	q, _ := openTestQueue(t, dir)
	big := strings.Repeat("x", 8000)
	for i := range 300 {
		q.Push([]Event{{ID: uint64(i + 1), Kind: "alert", Text: big}})
		q.Done(uint64(i + 1))
	}
	fi, err := os.Stat(filepath.Join(dir, "queue.log"))
	require.NoError(t, err)
	require.Less(t, fi.Size(), int64(compactGarbage+512<<10), "300 × 8 KB went through")
}

// FuzzParseQueueFile: whatever bytes the queue file holds, loading never
// panics, and what it loads is written back and loads the same.
func FuzzParseQueueFile(f *testing.F) {
	var good []byte
	good = append(good, encodeRecord(record{Version: queueFileVersion, Seen: []uint64{1, 2}})...)
	for _, ev := range testEvents(1, 3) {
		good = append(good, encodeRecord(record{Add: &ev})...)
	}
	good = append(good, encodeRecord(record{Done: 2})...)
	f.Add(good)
	f.Add(good[:len(good)-5])
	f.Add([]byte("00000000 {}\n\n\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, _, err := parseQueueFile(data)
		if err != nil {
			return
		}
		st2, damaged, err := parseQueueFile(encodeState(st))
		if err != nil || damaged != 0 {
			t.Fatalf("a rewritten file does not load: %v, %d damaged", err, damaged)
		}
		if len(st2.events) != len(st.events) || st2.lastSeq < st.lastSeq {
			t.Fatalf("loaded %d events (seq %d), wrote %d (seq %d)", len(st2.events), st2.lastSeq, len(st.events), st.lastSeq)
		}
	})
}
