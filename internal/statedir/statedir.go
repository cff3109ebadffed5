// Package statedir says where the plugins keep their files when the
// configuration names none: one directory for the alert state, the chat's
// offset and whatever else must outlive a restart.
package statedir

import (
	"fmt"
	"os"
	"path/filepath"
)

// Env names the directory; unset or empty, the default below applies.
const Env = "PROCBLOCKING_STATE_DIR"

// File is name in $PROCBLOCKING_STATE_DIR, or in the default state
// directory when that is unset or empty.
func File(name string) string {
	dir := os.Getenv(Env)
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = defaultDir(os.Geteuid(), os.Getenv("XDG_STATE_HOME"), home)
	}
	return filepath.Join(dir, name)
}

// defaultDir is /var/lib/procblocking for root, else procblocking in the
// user's XDG state directory ($XDG_STATE_HOME, which the XDG base directory
// specification wants absolute, else ~/.local/state), else a directory of
// the user's own in the temp directory.
func defaultDir(euid int, xdgStateHome, home string) string {
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
