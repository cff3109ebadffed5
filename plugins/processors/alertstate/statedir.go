package alertstate

import (
	"fmt"
	"os"
	"path/filepath"
)

// stateDirEnv names the directory of the default state file.
const stateDirEnv = "PROCBLOCKING_STATE_DIR"

// defaultStateFile is where the state is kept when 'state_file' is not
// given: alertstate.json in $PROCBLOCKING_STATE_DIR, or in the default state
// directory when that is unset or empty.
func defaultStateFile() string {
	dir := os.Getenv(stateDirEnv)
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = defaultStateDir(os.Geteuid(), os.Getenv("XDG_STATE_HOME"), home)
	}
	return filepath.Join(dir, "alertstate.json")
}

// defaultStateDir is /var/lib/procblocking for root, else procblocking in
// the user's XDG state directory ($XDG_STATE_HOME, which the XDG base
// directory specification wants absolute, else ~/.local/state), else a
// directory of the user's own in the temp directory.
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
