package filelock

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A second open of the file cannot take the lock while the first holds it,
// and can once the first is closed.
func TestTryLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	first, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	require.NoError(t, err)
	require.NoError(t, TryLock(first))

	second, err := os.OpenFile(path, os.O_RDWR, 0o600)
	require.NoError(t, err)
	defer second.Close()
	require.ErrorIs(t, TryLock(second), ErrHeld)

	require.NoError(t, first.Close())
	require.NoError(t, TryLock(second))
}
