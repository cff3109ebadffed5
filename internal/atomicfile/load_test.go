package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoadMissingFileIsAnEmptyStart(t *testing.T) {
	called := false
	res, err := Load(filepath.Join(t.TempDir(), "s.json"), 100, MoveIrregular, func([]byte) error { called = true; return nil })
	require.NoError(t, err)
	require.Equal(t, Loaded{}, res)
	require.False(t, called, "nothing to decode")
}

func TestLoadDecodesAndRemovesTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.json")
	require.NoError(t, Write(path, []byte("state")))
	for _, name := range []string{"s.json.tmp-1", "s.json.tmp-2"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("torn"), 0o600))
	}
	var got string
	res, err := Load(path, 100, MoveIrregular, func(data []byte) error { got = string(data); return nil })
	require.NoError(t, err)
	require.Equal(t, Loaded{Found: true, Temps: 2}, res)
	require.Equal(t, "state", got)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the file itself is left")
}

func TestLoadMovesAnUnusableFileAside(t *testing.T) {
	refused := errors.New("not a state")
	for name, tc := range map[string]struct {
		content string
		limit   int64
		want    error
	}{
		"refused by decode": {"garbage", 100, refused},
		"over the limit":    {"0123456789", 9, ErrTooLarge},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.json")
			require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o600))
			res, err := Load(path, tc.limit, LeaveIrregular, func([]byte) error { return refused })
			require.NoError(t, err)
			require.False(t, res.Found)
			require.ErrorIs(t, res.Unusable, tc.want)
			require.Equal(t, path+".corrupt", res.Aside)
			require.NoFileExists(t, path)
			aside, err := os.ReadFile(path + ".corrupt")
			require.NoError(t, err)
			require.Equal(t, tc.content, string(aside), "the evidence is kept")
		})
	}
}

func TestLoadIrregularNeverBlocks(t *testing.T) {
	for _, irregular := range []Irregular{MoveIrregular, LeaveIrregular} {
		path := filepath.Join(t.TempDir(), "s.json")
		require.NoError(t, syscall.Mkfifo(path, 0o600))
		type result struct {
			res Loaded
			err error
		}
		done := make(chan result, 1)
		go func() {
			res, err := Load(path, 100, irregular, func([]byte) error { return nil })
			done <- result{res, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("Load blocked on a FIFO")
		}
		require.NoError(t, r.err)
		require.False(t, r.res.Found)
		require.ErrorIs(t, r.res.Unusable, ErrNotRegular)
		fi, err := os.Lstat(path)
		if irregular == LeaveIrregular {
			require.NoError(t, err, "left in place")
			require.Equal(t, fs.ModeNamedPipe, fi.Mode().Type())
			require.Empty(t, r.res.Aside)
			require.NoFileExists(t, path+".corrupt")
		} else {
			require.ErrorIs(t, err, fs.ErrNotExist, "moved aside")
			require.Equal(t, path+".corrupt", r.res.Aside)
			fi, err := os.Lstat(r.res.Aside)
			require.NoError(t, err)
			require.Equal(t, fs.ModeNamedPipe, fi.Mode().Type())
		}
	}
}

// A file that cannot be read is the caller's to report: it may be fine, and
// is not moved.
func TestLoadReturnsReadErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loop")
	require.NoError(t, os.Symlink(path, path)) // ELOOP: neither missing nor unusable
	_, err := Load(path, 100, MoveIrregular, func([]byte) error { return nil })
	require.ErrorIs(t, err, syscall.ELOOP)
	_, err = os.Lstat(path)
	require.NoError(t, err, "left in place")
}

// An unusable file that cannot be moved aside is an error: starting empty
// would overwrite the evidence at the next write.
func TestLoadFailsWhenTheFileCannotBeMovedAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.json")
	require.NoError(t, os.WriteFile(path, []byte("x"), 0o600))
	// A directory where the aside file goes: the rename cannot replace it.
	require.NoError(t, os.Mkdir(path+".corrupt", 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(path+".corrupt", "keep"), nil, 0o600))
	res, err := Load(path, 100, MoveIrregular, func([]byte) error { return errors.New("bad") })
	require.ErrorContains(t, err, "moving it aside failed")
	require.ErrorContains(t, err, "bad")
	require.Error(t, res.Unusable)
	require.Empty(t, res.Aside)
	require.FileExists(t, path)
}
