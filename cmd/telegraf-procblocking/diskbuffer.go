package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/tidwall/wal"

	"github.com/procblocking/procblocking/internal/atomicfile"
)

// Telegraf keeps each output's disk buffer in <buffer_directory>/<plugin ID>,
// the ID being a hex SHA-256 of the output's options; the WAL's segment
// files are named by their first index in 20 digits.
var (
	pluginIDRe   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	walSegmentRe = regexp.MustCompile(`^[0-9]{20}(\.START|\.END)?$`)
)

// registerMetricType lets metric.FromBytes decode what the disk buffer wrote
// (Telegraf registers it when it creates a buffer, after our check).
var registerMetricType = sync.OnceFunc(metric.Init)

// checkDiskBuffers checks every output's disk buffer before Telegraf opens
// it. Telegraf refuses to load a configuration whose WAL does not open ("you
// have to manually delete the wal") and panics at the first flush on an entry
// that does not decode (telegraf#18528), at every start, so one torn write
// would keep the watchdog down until someone deletes the WAL by hand: a
// corrupt WAL is moved aside to <dir>.corrupt instead, and the events it held
// are lost, loudly. It returns log lines; an error only when a corrupt WAL
// cannot be moved out of the way.
func checkDiskBuffers(agent *config.AgentConfig) ([]string, error) {
	if agent.BufferStrategy != "disk" && agent.BufferStrategy != "disk_write_through" {
		return nil, nil
	}
	// An empty buffer_directory puts the WALs in the working directory.
	dir := agent.BufferDirectory
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // Telegraf creates it
	}
	if err != nil {
		return nil, fmt.Errorf("invalid 'buffer_directory' %q in [agent]: %w", agent.BufferDirectory, err)
	}
	var notices []string
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if !e.IsDir() || !pluginIDRe.MatchString(e.Name()) || !hasWALSegments(path) {
			continue
		}
		entries, verr := verifyWAL(path)
		if verr == nil {
			continue
		}
		lost := "an unknown number of undelivered events"
		if entries >= 0 {
			lost = fmt.Sprintf("%d undelivered event(s)", entries)
		}
		// A directory cannot be renamed over another: drop an older one.
		if err := os.RemoveAll(path + ".corrupt"); err != nil {
			return notices, fmt.Errorf("disk buffer %q is corrupt (%w) and an older %q is in the way: %w", path, verr, path+".corrupt", err)
		}
		moved, merr := atomicfile.MoveAside(path)
		if merr != nil {
			return notices, fmt.Errorf("disk buffer %q is corrupt (%w) and cannot be moved aside: %w", path, verr, merr)
		}
		notices = append(notices, fmt.Sprintf(
			"E! Disk buffer %q is corrupt (%v): moved it to %q and starting with an empty buffer; %s in it are lost",
			path, verr, moved, lost))
	}
	return notices, nil
}

// hasWALSegments reports whether dir holds a WAL segment. Opening a
// directory without one would create one.
func hasWALSegments(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.Type().IsRegular() && walSegmentRe.MatchString(e.Name()) {
			return true
		}
	}
	return false
}

// verifyWAL opens the WAL as Telegraf's disk buffer does and decodes every
// entry as the buffer would. It returns the number of entries, or -1 when
// the WAL does not even open, and the first failure.
func verifyWAL(dir string) (int, error) {
	registerMetricType()
	// The disk buffer's own options; Open writes nothing but the clean-up of
	// an interrupted truncation, which the buffer would do too.
	l, err := wal.Open(dir, &wal.Options{AllowEmpty: true})
	if err != nil {
		return -1, err
	}
	// Only read: a failing close loses nothing.
	defer func() { _ = l.Close() }()
	first, err := l.FirstIndex()
	if err != nil {
		return -1, err
	}
	last, err := l.LastIndex()
	if err != nil {
		return -1, err
	}
	entries := int(last + 1 - first)
	for i := first; i <= last; i++ {
		data, err := l.Read(i)
		if err != nil {
			return entries, fmt.Errorf("entry %d: %w", i, err)
		}
		// A tracking metric of an earlier run is one the buffer skips.
		if _, err := metric.FromBytes(data); err != nil && !errors.Is(err, metric.ErrSkipTracking) {
			return entries, fmt.Errorf("entry %d: %w", i, err)
		}
	}
	return entries, nil
}
