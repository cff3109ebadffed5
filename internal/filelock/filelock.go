// Package filelock takes the exclusive, non-blocking lock that keeps two
// agents (or two plugins of one agent) off one state file. The lock goes
// with the file's close, or with the process's death, so a SIGKILL never
// leaves it behind.
package filelock

import "errors"

// ErrHeld is returned when another open file holds the lock, in this
// process or another.
var ErrHeld = errors.New("locked")
