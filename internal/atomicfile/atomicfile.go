// Package atomicfile keeps small state files safe from crashes and from what
// may be found in their place: a write leaves either the old or the new
// complete file, whatever instant the process dies at, and a read never
// blocks on, nor trusts, a file it did not write.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Test hooks, run between the steps of Write.
var (
	testHookAfterTempWrite func()
	testHookAfterRename    func()
)

// Write replaces the content of path by data: temp file in the same
// directory, write, fsync, rename, fsync of the directory. A temp file left
// by a crash is named <base>.tmp-* and removed by Load.
func Write(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating temporary file: %w", err)
	}
	tmpName := tmp.Name()
	committed := false
	defer func() {
		if !committed {
			// The failure that brought us here is the one reported.
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("writing %q: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %q: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing %q: %w", tmpName, err)
	}
	if testHookAfterTempWrite != nil {
		testHookAfterTempWrite()
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("renaming %q: %w", tmpName, err)
	}
	committed = true
	if testHookAfterRename != nil {
		testHookAfterRename()
	}
	// Without the directory's fsync the rename itself may not survive a
	// power loss; a failure here is not worth failing the write for.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// ErrNotRegular is returned by Read for anything but a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned by Read for a file over its size limit.
var ErrTooLarge = errors.New("file too large")

// Read returns the content of the regular file at path, of at most limit
// bytes. It never blocks: a FIFO, a device (a symlink to /dev/zero, say), a
// socket or a directory is refused with ErrNotRegular, a larger file with
// ErrTooLarge. A missing file gives an error matching fs.ErrNotExist.
func Read(path string, limit int64) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	// writer for ever.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // only read
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%q is %s: %w", path, describe(fi.Mode()), ErrNotRegular)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%q has %d bytes, more than %d: %w", path, fi.Size(), limit, ErrTooLarge)
	}
	// Files such as those of /proc report size 0 and may hold more: the
	// limit is enforced on what is read, too.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%q holds more than %d bytes: %w", path, limit, ErrTooLarge)
	}
	return data, nil
}

func describe(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a directory"
	}
	return "not a regular file (" + m.String() + ")"
}

// MoveAside renames an unusable file to <path>.corrupt, replacing an older
// one, so that a fresh start keeps the evidence. It returns the new name.
func MoveAside(path string) (string, error) {
	aside := path + ".corrupt"
	if err := os.Rename(path, aside); err != nil {
		return "", err
	}
	return aside, nil
}

// removeTemps removes the temp files that interrupted writes of path left
// behind and returns how many it removed.
func removeTemps(path string) int {
	// Not filepath.Glob: the file's own name may contain glob characters.
	dir, prefix := filepath.Dir(path), filepath.Base(path)+".tmp-"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), prefix) && os.Remove(filepath.Join(dir, e.Name())) == nil {
			n++
		}
	}
	return n
}
