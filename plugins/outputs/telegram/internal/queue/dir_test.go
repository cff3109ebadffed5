package queue

import (
	"testing"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// One output at a time holds a state directory: two queues in one file
// would send their events twice.
func TestDirLocked(t *testing.T) {
	dir := t.TempDir()
	d, q, err := OpenDir(dir, &testutil.CaptureLogger{})
	require.NoError(t, err)
	_, _, err = OpenDir(dir, &testutil.CaptureLogger{})
	require.ErrorIs(t, err, ErrDirInUse)
	q.Close()
	d.Close()

	d, q, err = OpenDir(dir, &testutil.CaptureLogger{})
	require.NoError(t, err, "free again")
	q.Close()
	d.Close()
}
