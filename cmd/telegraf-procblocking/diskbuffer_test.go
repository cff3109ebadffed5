package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/models"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/wal"
)

// An output's plugin ID, as Telegraf names its buffer's directory.
const testOutputID = "5fbf320c9dbb5439a4eeaf33e2db93b8d9f8b1920095c0ae616f02260cc8a194"

// writeWAL appends events to the WAL in dir as Telegraf's disk buffer
// does, and then the raw entries as they are.
func writeWAL(t *testing.T, dir string, events int, raw ...[]byte) {
	t.Helper()
	registerMetricType()
	l, err := wal.Open(dir, &wal.Options{AllowEmpty: true})
	require.NoError(t, err)
	last, err := l.LastIndex()
	require.NoError(t, err)
	for i := range events {
		m := metric.New("procblocking_alert", map[string]string{"event": "recovery"},
			map[string]any{"message": "gone", "count": int64(i)}, time.Unix(1_800_000_000, 0))
		data, err := metric.ToBytes(m)
		require.NoError(t, err)
		last++
		require.NoError(t, l.Write(last, data))
	}
	for _, r := range raw {
		last++
		require.NoError(t, l.Write(last, r))
	}
	require.NoError(t, l.Close())
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, filepath.Join(dir, e.Name()))
	}
	return out
}

func diskAgent(dir string) *config.AgentConfig {
	return &config.AgentConfig{BufferStrategy: "disk", BufferDirectory: dir}
}

func TestCheckDiskBuffers(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, wal string)
		// what Telegraf's own buffer does with it: it fails to open (and
		// the configuration does not load), or panics at its first flush
		openFails, flushPanics bool
		lost                   string
	}{
		{
			name: "truncated last entry",
			prepare: func(t *testing.T, dir string) {
				writeWAL(t, dir, 3)
				seg := segments(t, dir)
				fi, err := os.Stat(seg[len(seg)-1])
				require.NoError(t, err)
				require.NoError(t, os.Truncate(seg[len(seg)-1], fi.Size()-3))
			},
			openFails: true,
			lost:      "an unknown number of undelivered events",
		},
		{
			name: "garbage segment",
			prepare: func(t *testing.T, dir string) {
				require.NoError(t, os.MkdirAll(dir, 0o750))
				require.NoError(t, os.WriteFile(filepath.Join(dir, "00000000000000000001"), bytes.Repeat([]byte{0xff}, 64), 0o640))
			},
			openFails: true,
			lost:      "an unknown number of undelivered events",
		},
		{
			name:        "an entry that is not a metric",
			prepare:     func(t *testing.T, dir string) { writeWAL(t, dir, 2, []byte("not a gob-encoded metric")) },
			flushPanics: true,
			lost:        "3 undelivered event(s)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bufDir := t.TempDir()
			walDir := filepath.Join(bufDir, testOutputID)
			tt.prepare(t, walDir)

			// What the check prevents, on a copy.
			copyDir := t.TempDir()
			require.NoError(t, os.CopyFS(filepath.Join(copyDir, testOutputID), os.DirFS(walDir)))
			b, err := models.NewBuffer("file", testOutputID, "", 100, "disk_write_through", copyDir, false)
			if tt.openFails {
				require.ErrorContains(t, err, "manually delete the wal", "Telegraf opens it: is the check still needed?")
			} else {
				require.NoError(t, err)
				require.Panics(t, func() { b.BeginTransaction(10) }, "Telegraf's buffer reads it without panicking: is the check still needed?")
			}

			notices, err := checkDiskBuffers(diskAgent(bufDir))
			require.NoError(t, err)
			require.Len(t, notices, 1)
			require.True(t, strings.HasPrefix(notices[0], "E! Disk buffer "), notices[0])
			require.Contains(t, notices[0], walDir+".corrupt")
			require.Contains(t, notices[0], tt.lost+" in it are lost")
			_, err = os.Stat(walDir)
			require.ErrorIs(t, err, os.ErrNotExist)
			require.NotEmpty(t, segments(t, walDir+".corrupt"), "the evidence is kept")

			// Telegraf now starts an empty buffer in its place.
			b, err = models.NewBuffer("file", testOutputID, "", 100, "disk_write_through", bufDir, false)
			require.NoError(t, err)
			require.Zero(t, b.Len())
			require.NoError(t, b.Close())
		})
	}
}

func TestCheckDiskBuffersKeepsWhatIsSound(t *testing.T) {
	bufDir := t.TempDir()
	walDir := filepath.Join(bufDir, testOutputID)
	writeWAL(t, walDir, 3)
	// Not a WAL of Telegraf's: another directory of the state volume, a
	// WAL-named directory without a segment, a file.
	other := filepath.Join(bufDir, "telegram")
	require.NoError(t, os.MkdirAll(other, 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(other, "queue.json"), []byte("garbage"), 0o600))
	empty := filepath.Join(bufDir, strings.Repeat("a", 64))
	require.NoError(t, os.MkdirAll(empty, 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(bufDir, strings.Repeat("b", 64)), []byte("x"), 0o600))

	notices, err := checkDiskBuffers(diskAgent(bufDir))
	require.NoError(t, err)
	require.Empty(t, notices)
	require.Empty(t, segments(t, empty), "opening a directory without a WAL creates one")
	_, err = os.Stat(filepath.Join(other, "queue.json"))
	require.NoError(t, err)

	b, err := models.NewBuffer("file", testOutputID, "", 100, "disk_write_through", bufDir, false)
	require.NoError(t, err)
	require.Equal(t, 3, b.Len(), "the events waiting in a sound WAL are kept")
	require.NoError(t, b.Close())
}

func TestCheckDiskBuffersReplacesAnOlderCorruptOne(t *testing.T) {
	bufDir := t.TempDir()
	walDir := filepath.Join(bufDir, testOutputID)
	writeWAL(t, walDir, 1, []byte("first"))
	_, err := checkDiskBuffers(diskAgent(bufDir))
	require.NoError(t, err)
	writeWAL(t, walDir, 4, []byte("second"))
	notices, err := checkDiskBuffers(diskAgent(bufDir))
	require.NoError(t, err)
	require.Len(t, notices, 1)
	require.Contains(t, notices[0], "5 undelivered event(s)")
	n, err := verifyWAL(walDir + ".corrupt")
	require.Error(t, err)
	require.Equal(t, 5, n, "the newer corrupt WAL is kept")
}

func TestCheckDiskBuffersOnlyForTheDiskBuffer(t *testing.T) {
	bufDir := t.TempDir()
	walDir := filepath.Join(bufDir, testOutputID)
	writeWAL(t, walDir, 1, []byte("garbage"))
	for _, strategy := range []string{"", "memory"} {
		notices, err := checkDiskBuffers(&config.AgentConfig{BufferStrategy: strategy, BufferDirectory: bufDir})
		require.NoError(t, err)
		require.Empty(t, notices)
	}
	_, err := os.Stat(walDir)
	require.NoError(t, err)

	// A buffer directory that does not exist yet is Telegraf's to create.
	notices, err := checkDiskBuffers(diskAgent(filepath.Join(bufDir, "missing")))
	require.NoError(t, err)
	require.Empty(t, notices)
	// One that cannot be read is refused, naming the option.
	_, err = checkDiskBuffers(diskAgent(filepath.Join(walDir, "00000000000000000001")))
	require.ErrorContains(t, err, "invalid 'buffer_directory'")
}
