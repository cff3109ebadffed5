package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
)

// Irregular says what Load does with something other than a regular file
// (a FIFO, a device, a directory) found in the file's place.
type Irregular int

const (
	// MoveIrregular moves it aside, as an unusable file.
	MoveIrregular Irregular = iota
	// LeaveIrregular leaves it in place: the next Write renames a regular
	// file over it.
	LeaveIrregular
)

// Loaded is what Load found at the path.
type Loaded struct {
	// Found is set when a file was there and decode accepted it.
	Found bool
	// Temps is how many temp files of interrupted writes were removed.
	Temps int
	// Unusable is why the file could not be used: not a regular file,
	// over the limit, or refused by decode. The caller starts empty.
	Unusable error
	// Aside is where the unusable file was moved ("" when it was left in
	// place).
	Aside string
}

// Load reads the state file at path (at most limit bytes, never blocking)
// and hands its content to decode, after removing the temp files that
// interrupted writes of it left. A missing file is an empty start, not an
// error. An unusable file is moved aside to <path>.corrupt, keeping the
// evidence, and reported in Loaded.Unusable (a non-regular file only when
// irregular is MoveIrregular). The error is for what the caller cannot
// start from: a file that cannot be read (permission denied, an I/O error)
// or an unusable one that cannot be moved aside.
func Load(path string, limit int64, irregular Irregular, decode func(data []byte) error) (Loaded, error) {
	res := Loaded{Temps: removeTemps(path)}
	data, err := Read(path, limit)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return res, nil
	case err == nil:
		if err = decode(data); err == nil {
			res.Found = true
			return res, nil
		}
	case errors.Is(err, ErrNotRegular):
		if irregular == LeaveIrregular {
			res.Unusable = err
			return res, nil
		}
	case errors.Is(err, ErrTooLarge):
	default:
		return res, err
	}
	res.Unusable = err
	aside, merr := MoveAside(path)
	if merr != nil {
		return res, fmt.Errorf("unusable (%w), and moving it aside failed: %w", err, merr)
	}
	res.Aside = aside
	return res, nil
}
