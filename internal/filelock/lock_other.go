//go:build !unix && !windows

package filelock

import "os"

// TryLock does not lock on platforms without flock or LockFileEx (plan9,
// wasm): the plugins' in-process checks still refuse a second user in one
// agent.
func TryLock(*os.File) error { return nil }
