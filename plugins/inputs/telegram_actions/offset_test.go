package telegram_actions

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// A saved offset is what the next start asks for; a broken offset file is
// moved aside, keeping the evidence, and the start is a first start: the
// presses pending then are skipped, never replayed.
func TestOffsetFileSavedAndBrokenMovedAside(t *testing.T) {
	path := filepath.Join(t.TempDir(), "offset.json")
	f, err := openOffsetFile(path, testutil.Logger{})
	require.NoError(t, err)
	require.False(t, f.known)
	f.save(42)
	f.close()

	f, err = openOffsetFile(path, testutil.Logger{})
	require.NoError(t, err)
	require.True(t, f.known)
	require.Equal(t, int64(42), f.next)
	f.close()

	for _, broken := range []string{"{not json", `{"version":2,"offset":7}`, `{"version":1,"offset":-1}`} {
		require.NoError(t, os.WriteFile(path, []byte(broken), 0o600))
		f, err = openOffsetFile(path, testutil.Logger{})
		require.NoError(t, err, broken)
		require.False(t, f.known, broken)
		require.Zero(t, f.next, broken)
		f.close()
		aside, err := os.ReadFile(path + ".corrupt")
		require.NoError(t, err, broken)
		require.Equal(t, broken, string(aside))
		_, err = os.Stat(path)
		require.ErrorIs(t, err, os.ErrNotExist, "moved, not copied")
		require.NoError(t, os.Remove(path+".corrupt"))
	}
}
