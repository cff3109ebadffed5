//go:build !unix

package telegram_actions

import (
	"errors"
	"os"
)

var errLockHeld = errors.New("locked")

// tryLock does not lock here: the in-process claim (claim.go) still refuses
// a second poller in one agent.
func tryLock(*os.File) error { return nil }
