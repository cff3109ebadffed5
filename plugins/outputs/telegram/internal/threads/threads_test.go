package threads

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// warnings is the number of warnings logged containing every one of parts.
func warnings(log *testutil.CaptureLogger, parts ...string) int {
	n := 0
next:
	for _, w := range log.Warnings() {
		for _, p := range parts {
			if !strings.Contains(w, p) {
				continue next
			}
		}
		n++
	}
	return n
}

func TestThreadsBounded(t *testing.T) {
	th, err := Load("", &testutil.CaptureLogger{})
	require.NoError(t, err)
	for i := range maxThreads + 1 {
		th.Record([]string{fmt.Sprint(i)}, Ref{Chat: "1", MessageID: int64(i + 1), At: int64(i)})
	}
	require.Equal(t, maxThreads*9/10, len(th.refs), "down to 90% when full")
	_, ok := th.Lookup(fmt.Sprint(maxThreads / 10))
	require.False(t, ok, "the oldest are forgotten")
	_, ok = th.Lookup(fmt.Sprint(maxThreads/10 + 1))
	require.True(t, ok)

	long := strings.Repeat("x", 3000)
	for i := range maxThreadTextBytes/3000 + 10 {
		th.Record([]string{fmt.Sprint("t", i)}, Ref{Chat: "1", MessageID: 1, Text: long, At: int64(100_000 + i)})
	}
	require.LessOrEqual(t, th.bytes, maxThreadTextBytes)
}

func TestThreadsFileUnusable(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":       "{not json",
		"other version": `{"version":9,"threads":{}}`,
		"unknown field": `{"version":1,"threads":{},"x":1}`,
		"invalid entry": `{"version":1,"threads":{"a":{"chat":"1","message_id":0,"at":1}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "threads.json")
			require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
			log := &testutil.CaptureLogger{}
			th, err := Load(path, log)
			require.NoError(t, err)
			require.Empty(t, th.refs)
			require.Equal(t, 1, warnings(log, "is unusable", path+".corrupt"), log.Messages())
			_, err = os.Stat(path + ".corrupt")
			require.NoError(t, err)
		})
	}
	t.Run("fifo", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "threads.json")
		require.NoError(t, syscall.Mkfifo(path, 0o600))
		log := &testutil.CaptureLogger{}
		th, err := Load(path, log)
		require.NoError(t, err, "a FIFO never blocks the start")
		require.Empty(t, th.refs)
		require.Equal(t, 1, warnings(log, "not a regular file"), log.Messages())
	})
}
