//go:build unix

package telegram_actions

import (
	"errors"
	"os"
	"syscall"
)

var errLockHeld = errors.New("locked")

// tryLock takes an exclusive lock on f without waiting; it goes with the
// file's close or the process's death.
func tryLock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLockHeld
	}
	return err
}
