package telegram_actions

import (
	"fmt"
	"os"
	"path/filepath"
)

// stateDirEnv names the directory of the default offset file, as for
// alertstate's state file.
const stateDirEnv = "PROCBLOCKING_STATE_DIR"

// defaultOffsetFile is telegram_actions.json in $PROCBLOCKING_STATE_DIR, or
// in the default state directory when that is unset or empty.
func defaultOffsetFile() string {
	dir := os.Getenv(stateDirEnv)
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = defaultStateDir(os.Geteuid(), os.Getenv("XDG_STATE_HOME"), home)
	}
	return filepath.Join(dir, "telegram_actions.json")
}

// defaultStateDir is /var/lib/procblocking for root, else procblocking in
// the user's XDG state directory, else a directory of the user's own in the
// temp directory: the same as alertstate's.
func defaultStateDir(euid int, xdgStateHome, home string) string {
	switch {
	case euid == 0:
		return "/var/lib/procblocking"
	case filepath.IsAbs(xdgStateHome):
		return filepath.Join(xdgStateHome, "procblocking")
	case filepath.IsAbs(home):
		return filepath.Join(home, ".local", "state", "procblocking")
	default:
		return filepath.Join(os.TempDir(), fmt.Sprintf("procblocking-%d", euid))
	}
}
