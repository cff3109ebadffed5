package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// stateDirEnv names the directory the embedded default keeps its state in.
const stateDirEnv = "PROCBLOCKING_STATE_DIR"

// setStateDirEnv sets $PROCBLOCKING_STATE_DIR when it is unset or empty, so
// that the embedded default (and any config using it) has a state directory.
func setStateDirEnv() error {
	if os.Getenv(stateDirEnv) != "" {
		return nil
	}
	home, _ := os.UserHomeDir()
	dir := defaultStateDir(os.Geteuid(), os.Getenv("XDG_STATE_HOME"), home)
	if err := os.Setenv(stateDirEnv, dir); err != nil {
		return fmt.Errorf("setting $%s: %w", stateDirEnv, err)
	}
	return nil
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
