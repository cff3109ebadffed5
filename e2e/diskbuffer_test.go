package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/metric"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/wal"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

// A corrupt disk buffer never keeps the watchdog down: Telegraf refuses to
// start on one that does not open and panics at the first flush on an entry
// that does not decode (telegraf#18528), at every start. The binary moves it
// aside, says so loudly, starts with an empty buffer and keeps running.
func TestCorruptDiskBufferIsMovedAside(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t, "telegraf-procblocking")
	tests := []struct {
		name    string
		corrupt func(t *testing.T, walDir string)
		lost    string
	}{
		{
			// A write torn by a crash or a full disk.
			name: "truncated",
			corrupt: func(t *testing.T, walDir string) {
				appendEvents(t, walDir, 3)
				seg := lastSegment(t, walDir)
				fi, err := os.Stat(seg)
				require.NoError(t, err)
				require.NoError(t, os.Truncate(seg, fi.Size()-5))
			},
			lost: "an unknown number of undelivered events",
		},
		{
			// A bad sector, a stray write: garbage the log's framing accepts.
			name: "garbage",
			corrupt: func(t *testing.T, walDir string) {
				appendEvents(t, walDir, 2)
				l, err := wal.Open(walDir, &wal.Options{AllowEmpty: true})
				require.NoError(t, err)
				last, err := l.LastIndex()
				require.NoError(t, err)
				require.NoError(t, l.Write(last+1, bytes.Repeat([]byte{0xde, 0xad}, 40)))
				require.NoError(t, l.Close())
			},
			lost: "3 undelivered event(s)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg := botapitest.New(t, e2eToken)
			w := newWatchdog(t, newMarker("wal"), tg.URL())
			conf := w.write(t)

			// A first run makes the outputs' buffers; stopped cleanly they
			// are empty.
			agent := proctest.Start(t, w.env(), bin, "--config", conf)
			awaitScans(t, w.metrics, 1)
			require.NoError(t, agent.Cmd.Process.Signal(os.Interrupt))
			require.NoError(t, agent.Wait(t, 60*time.Second), agent.Stderr.String())
			walDirs, err := filepath.Glob(filepath.Join(w.root, "buffer", "*"))
			require.NoError(t, err)
			require.Len(t, walDirs, 2, "a buffer per output: telegram and file")
			walDir := walDirs[0]
			tt.corrupt(t, walDir)

			agent = proctest.Start(t, w.env(), bin, "--config", conf)
			awaitScans(t, w.metrics, 2)
			require.False(t, agent.Exited(), "%v\n%s", agent.Err(), agent.Stderr.String())
			stderr := agent.Stderr.String()
			require.Regexp(t, regexp.MustCompile(` E! Disk buffer "`+regexp.QuoteMeta(walDir)+`" is corrupt \(.+\): moved it to "`+
				regexp.QuoteMeta(walDir+".corrupt")+`" and starting with an empty buffer; `+regexp.QuoteMeta(tt.lost)+` in it are lost`), stderr)
			// The corrupt buffer is kept for a post-mortem.
			lastSegment(t, walDir+".corrupt")
			require.NoError(t, agent.Cmd.Process.Signal(os.Interrupt))
			require.NoError(t, agent.Wait(t, 60*time.Second), stderr)
			require.NotContains(t, stderr, "panic")
		})
	}
}

// appendEvents writes events to a disk buffer as Telegraf does.
func appendEvents(t *testing.T, walDir string, n int) {
	t.Helper()
	metric.Init()
	l, err := wal.Open(walDir, &wal.Options{AllowEmpty: true})
	require.NoError(t, err)
	last, err := l.LastIndex()
	require.NoError(t, err)
	for i := range n {
		m := metric.New("procblocking_alert", map[string]string{"event": "recovery", "pid": "4242"},
			map[string]any{"message": "✅ gone", "count": int64(1)}, time.Now().Add(time.Duration(i)))
		data, err := metric.ToBytes(m)
		require.NoError(t, err)
		require.NoError(t, l.Write(last+1+uint64(i), data))
	}
	require.NoError(t, l.Close())
}

func lastSegment(t *testing.T, walDir string) string {
	t.Helper()
	entries, err := os.ReadDir(walDir)
	require.NoError(t, err)
	var last string
	for _, e := range entries {
		if !strings.Contains(e.Name(), ".") {
			last = e.Name()
		}
	}
	require.NotEmpty(t, last)
	return filepath.Join(walDir, last)
}
