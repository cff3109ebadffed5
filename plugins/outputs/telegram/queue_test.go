package telegram

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
)

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }

func testEvents(from, to int) []event {
	var evs []event
	for i := from; i <= to; i++ {
		evs = append(evs, event{ID: uint64(1000 + i), Kind: "alert", Text: fmt.Sprintf("🚨 event %d\n<&>", i), AlertIDs: []string{alertID(i)}})
	}
	return evs
}

// openTestQueue opens the queue file of dir as Connect does.
func openTestQueue(t *testing.T, dir string) (*queue, loadResult, *captureLogger) {
	t.Helper()
	log := &captureLogger{}
	qf, st, res, err := openQueueFile(filepath.Join(dir, "queue.log"))
	require.NoError(t, err)
	q := newQueue(log, qf, st)
	t.Cleanup(q.close)
	return q, res, log
}

func texts2(evs []event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Text)
	}
	return out
}

func TestQueueFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	q, res, _ := openTestQueue(t, dir)
	require.Zero(t, res.damaged)
	require.Equal(t, 5, q.push(testEvents(1, 5)))
	require.Zero(t, q.push(testEvents(2, 3)), "accepted already")
	q.done(q.head(2)[1].Seq)
	q.close()

	q2, res, _ := openTestQueue(t, dir)
	require.Zero(t, res.damaged)
	got := q2.head(10)
	require.Equal(t, texts2(testEvents(3, 5)), texts2(got))
	require.Equal(t, []string{alertID(3)}, got[0].AlertIDs)
	require.Equal(t, uint64(3), got[0].Seq)
	require.Zero(t, q2.push(testEvents(1, 5)), "identities of delivered and queued events are remembered")
	require.Equal(t, 1, q2.push(testEvents(6, 6)))
	require.Equal(t, uint64(6), q2.head(10)[3].Seq, "seq keeps counting up")

	// An emptied queue keeps its seq and identities across a restart.
	q2.done(6)
	q2.close()
	q3, _, _ := openTestQueue(t, dir)
	require.Zero(t, q3.len())
	require.Zero(t, q3.push(testEvents(1, 6)))
	require.Equal(t, 1, q3.push(testEvents(7, 7)))
	require.Equal(t, uint64(7), q3.head(1)[0].Seq)
}

// A crash in the middle of an append leaves a line cut short: the queue
// loads what is before it, says what it skipped, and goes on.
func TestQueueFileTornTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "queue.log")
	q, _, _ := openTestQueue(t, dir)
	q.push(testEvents(1, 3))
	q.close()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	line := encodeRecord(record{Add: &event{Seq: 4, ID: 9, Text: "🚨 torn"}})
	for cut := 1; cut < len(line); cut += 7 {
		require.NoError(t, os.WriteFile(path, append(bytes.Clone(data), line[:cut]...), 0o600))
		q, res, _ := openTestQueue(t, dir)
		require.Equal(t, 1, res.damaged, "cut at %d", cut)
		require.Equal(t, texts2(testEvents(1, 3)), texts2(q.head(10)), "cut at %d", cut)
		q.push(testEvents(5, 5))
		q.close()
		q, res, _ = openTestQueue(t, dir)
		require.Zero(t, res.damaged, "the file was rewritten clean")
		require.Equal(t, texts2(append(testEvents(1, 3), testEvents(5, 5)...)), texts2(q.head(10)))
		q.close()
	}
}

// A line damaged in the middle (a bad sector) costs that line only.
func TestQueueFileDamagedLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "queue.log")
	first, _, _ := openTestQueue(t, dir)
	first.push(testEvents(1, 3))
	first.close()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := bytes.SplitAfter(data, []byte("\n"))
	require.Len(t, lines, 5) // header, 3 events, ""
	lines[2] = bytes.Replace(lines[2], []byte("event 2"), []byte("event X"), 1)
	require.NoError(t, os.WriteFile(path, bytes.Join(lines, nil), 0o600))

	q, res, _ := openTestQueue(t, dir)
	require.Equal(t, 1, res.damaged)
	require.Equal(t, []string{testEvents(1, 1)[0].Text, testEvents(3, 3)[0].Text}, texts2(q.head(10)))
}

func TestQueueFileUnusable(t *testing.T) {
	for name, setup := range map[string]func(path string) error{
		"other version": func(path string) error {
			return os.WriteFile(path, encodeRecord(record{Version: 9}), 0o600)
		},
		"fifo": mkfifo,
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
			q, res, _ := openTestQueue(t, dir)
			require.Equal(t, path+".corrupt", res.aside)
			require.Error(t, res.why)
			require.Zero(t, q.len())
			require.Equal(t, 2, q.push(testEvents(1, 2)), "the queue works")
		})
	}
}

// Delivered records do not pile up: the file is rewritten with what is
// still queued.
func TestQueueFileCompacted(t *testing.T) {
	dir := t.TempDir()
	q, _, _ := openTestQueue(t, dir)
	big := strings.Repeat("x", 8000)
	for i := range 300 {
		q.push([]event{{ID: uint64(i + 1), Kind: "alert", Text: big}})
		q.done(uint64(i + 1))
	}
	fi, err := os.Stat(filepath.Join(dir, "queue.log"))
	require.NoError(t, err)
	require.Less(t, fi.Size(), int64(compactGarbage+512<<10), "300 × 8 KB went through")
}

func TestQueueBounded(t *testing.T) {
	log := &captureLogger{}
	q := newQueue(log, nil, queueState{})
	var evs []event
	for i := range maxQueued + 3 {
		evs = append(evs, event{ID: uint64(i + 1), Text: fmt.Sprint("e", i)})
	}
	q.push(evs)
	require.Equal(t, maxQueued, q.len())
	require.Equal(t, "e3", q.head(1)[0].Text, "the oldest are dropped")
	require.Equal(t, 1, log.count("E!", "Queue full", "dropped the 3 oldest"), log.String())

	q = newQueue(log, nil, queueState{})
	big := strings.Repeat("y", 4<<20)
	for i := range 10 {
		q.push([]event{{ID: uint64(i + 1), Text: big}})
	}
	require.LessOrEqual(t, q.bytes, maxQueuedBytes)
	require.Equal(t, maxQueuedBytes/len(big), q.len())
}

// A disk that fails (full, read-only) keeps the output working from memory,
// with one warning for the whole streak, and the file catches up once the
// disk works again.
func TestQueueDiskFailureWorksFromMemory(t *testing.T) {
	srv := newServer(t)
	srv.SetDefault(botapitest.Response{Status: 500})
	dir := t.TempDir()
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.StateDirectory = dir })
	queueWrite(t, p, batch(1))

	// The disk fails: appends give ENOSPC, rewrites find no directory.
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	require.NoError(t, err)
	p.queue.mu.Lock()
	realPath := p.queue.file.path
	p.queue.file.f.Close()
	p.queue.file.f = full
	p.queue.file.path = filepath.Join(dir, "gone", "queue.log")
	p.queue.mu.Unlock()

	queueWrite(t, p, batch(3)[1:2])
	queueWrite(t, p, batch(3)[2:3])
	require.Equal(t, 1, p.log.count("W!", "Writing the queue file failed"), p.log.String())

	p.queue.mu.Lock()
	p.queue.file.path = realPath
	p.queue.mu.Unlock()
	queueWrite(t, p, batch(4)[3:4])
	require.Equal(t, 1, p.log.count("I!", "Writing the queue file works again after 2 failed attempts"), p.log.String())

	srv.SetDefault(botapitest.Response{})
	require.Equal(t, alertTexts(1, 4), texts(waitMessages(t, srv, 4)))
	require.NoError(t, p.Close())
	q, res, _ := openTestQueue(t, dir)
	require.Zero(t, res.damaged)
	require.Zero(t, q.len(), "the file knows all four were delivered")
	require.Zero(t, q.push([]event{{ID: identity(batch(3)[1])}}), "and their identities")
}

func TestStateDirectoryLocked(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.StateDirectory = dir })

	second := basePlugin(srv.URL())
	second.StateDirectory = dir
	second.Log = &captureLogger{}
	require.NoError(t, second.Init())
	err := second.Connect()
	require.ErrorContains(t, err, fmt.Sprintf("invalid 'state_directory' %q: in use by another outputs.telegram", dir))
	require.NoError(t, second.Close())

	require.NoError(t, p.Close())
	require.NoError(t, second.Connect(), "free again")
	require.NoError(t, second.Close())
}

// A state directory that cannot be created does not stop the alerts: the
// queue works from memory, and the log says what a crash would lose.
func TestStateDirectoryUnusable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	srv := newServer(t)
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.StateDirectory = filepath.Join(file, "telegram") })
	require.Equal(t, 1, p.log.count("E!", "Cannot use 'state_directory'", "a crash loses the events not yet delivered"), p.log.String())
	queueWrite(t, p, batch(2))
	require.Equal(t, alertTexts(1, 2), texts(waitMessages(t, srv, 2)))
}

// Close (at the end of --once, or when Telegraf stops) delivers what is
// queued while Telegram takes it; during an outage it stops at once rather
// than hold up the stop (or a reload) for close_timeout. What it cannot
// deliver stays in the state directory and goes out after the next start.
func TestCloseDeliversThenLeavesTheRestQueued(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.StateDirectory = dir })
	queueWrite(t, p, batch(3))
	require.NoError(t, p.Close())
	require.Equal(t, alertTexts(1, 3), texts(srv.Messages()), "delivered before Close returned")

	srv.SetDefault(botapitest.Response{Status: 502})
	p2 := newPlugin(t, srv.URL(), func(p *Telegram) {
		p.StateDirectory = dir
		p.CloseTimeout = config.Duration(time.Hour)
	})
	queueWrite(t, p2, batch(5)[3:])
	closed := make(chan error)
	go func() { closed <- p2.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Close waited out close_timeout while Telegram was down")
	}
	require.Equal(t, 1, p2.log.count("W!", "Stopping with 2 event(s) not delivered", "sent after the next start"), p2.log.String())

	srv.SetDefault(botapitest.Response{})
	p3 := newPlugin(t, srv.URL(), func(p *Telegram) { p.StateDirectory = dir })
	require.Equal(t, 1, p3.log.count("I!", "Resuming the delivery of 2 event(s)"), p3.log.String())
	require.Equal(t, alertTexts(1, 5), texts(waitMessages(t, srv, 5)))
}

// Telegram asks for an hour's wait (429): Close does not sit it out.
func TestCloseDuringLongRetryWait(t *testing.T) {
	srv := newServer(t)
	srv.SetDefault(botapitest.Response{Status: 429, RetryAfter: 3600})
	p := basePlugin(srv.URL())
	p.StateDirectory = t.TempDir()
	p.CloseTimeout = config.Duration(time.Hour)
	log := &captureLogger{}
	p.Log = log
	require.NoError(t, p.Init())
	require.NoError(t, p.Connect()) // the real clock
	queueWrite(t, p, batch(1))
	require.Eventually(t, func() bool { return log.count("W!", "asks to wait 1h0m0s") == 1 }, 30*time.Second, 5*time.Millisecond)

	closed := make(chan error)
	go func() { closed <- p.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Close sat out the 429's retry_after")
	}
	require.Equal(t, 1, log.count("W!", "Stopping with 1 event(s) not delivered"), log.String())
}

// Without a state directory, what is left at the stop was never
// acknowledged: Telegraf's buffer holds it.
func TestCloseWithoutStateDirectorySaysWhereTheEventsAre(t *testing.T) {
	srv := newServer(t)
	srv.SetDefault(botapitest.Response{Status: 502})
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.CloseTimeout = config.Duration(100 * time.Millisecond) })
	require.ErrorIs(t, p.Write(batch(2)), ErrNotDelivered)
	require.NoError(t, p.Close())
	require.Equal(t, 1, p.log.count("W!", "Stopping with 2 event(s) not delivered: not acknowledged, they stay in Telegraf's buffer"), p.log.String())
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
