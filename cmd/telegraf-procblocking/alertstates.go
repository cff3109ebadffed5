package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/models"
	"github.com/influxdata/telegraf/plugins/processors"

	"github.com/procblocking/procblocking/internal/atomicfile"
	"github.com/procblocking/procblocking/plugins/processors/alertstate"
)

type alertStateProcessor struct {
	plugin *alertstate.AlertState
	// table says where it was configured: "[[processors.alertstate]] at
	// file:line".
	table string
}

func isAlertState(rp *models.RunningProcessor) bool {
	u, ok := rp.Processor.(processors.HasUnwrap)
	if !ok {
		return false
	}
	_, ok = u.Unwrap().(*alertstate.AlertState)
	return ok
}

// alertStates lists the alertstate processors of c that run before the
// aggregators, with their tables.
func alertStates(c *config.Config) []alertStateProcessor {
	var out []alertStateProcessor
	tables := pluginTables(c)[len(c.Inputs):]
	for i, rp := range c.Processors {
		if !isAlertState(rp) {
			continue
		}
		out = append(out, alertStateProcessor{
			plugin: rp.Processor.(processors.HasUnwrap).Unwrap().(*alertstate.AlertState),
			table:  describeTable(tables[i]),
		})
	}
	return out
}

// describeTable names a plugin's table with its file and line.
func describeTable(p pluginTable) string {
	if line := tableLine(p.source, p.table, p.nth); line > 0 {
		return fmt.Sprintf("[[%s]] at %s:%d", p.table, p.source, line)
	}
	return fmt.Sprintf("[[%s]] in %s", p.table, p.source)
}

// placeAlertStates runs each alertstate once, before the aggregators, with a
// state file of its own.
//
// Telegraf makes a second instance of every processor to run on the
// aggregators' output unless skip_processors_after_aggregators is true.
// alertstate's input is the input plugin's processes and scans, never an
// aggregate of them: a second instance would decide on metrics it does not
// understand (an aggregated scan is no scan) or alert again (an aggregator
// such as merge emits the metrics as they were), and would share the first
// one's state file. So the second instances are left out.
//
// Two tables keeping their state in one file would overwrite each other's
// state and alert again after a restart: that is refused, naming both.
func placeAlertStates(c *config.Config) ([]string, error) {
	var notices []string
	before := len(c.AggProcessors)
	c.AggProcessors = slices.DeleteFunc(c.AggProcessors, isAlertState)
	skip := c.Agent.SkipProcessorsAfterAggregators
	if len(c.AggProcessors) < before && len(c.Aggregators) > 0 && (skip == nil || !*skip) {
		notices = append(notices, "I! processors.alertstate runs before the aggregators only: its input is the processes and scans themselves, not aggregates of them")
	}
	owner := map[string]string{}
	for _, p := range alertStates(c) {
		if p.plugin.StateFile == "" {
			continue
		}
		path, err := filepath.Abs(p.plugin.StateFile)
		if err != nil {
			return nil, fmt.Errorf("%s: invalid 'state_file' %q: %w", p.table, p.plugin.StateFile, err)
		}
		if first, ok := owner[path]; ok {
			return nil, fmt.Errorf("%s and %s keep their alert state in the same file %q: give each its own 'state_file'",
				first, p.table, path)
		}
		owner[path] = p.table
	}
	return notices, nil
}

// copyStateFiles points every alertstate of a test run at a copy of its state
// file in a temporary directory: the test run decides as a real run would,
// from the saved state, and whatever it writes goes to the copy, which
// release removes. The state files themselves are neither written, moved
// nor created.
func copyStateFiles(c *config.Config) (notices []string, release func(), err error) {
	procs := alertStates(c)
	if len(procs) == 0 {
		return nil, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "telegraf-procblocking-test-")
	if err != nil {
		return nil, nil, fmt.Errorf("test run: a directory for the copies of the state files: %w", err)
	}
	release = func() { _ = os.RemoveAll(dir) }
	for i, p := range procs {
		if p.plugin.StateFile == "" {
			continue
		}
		copyPath := filepath.Join(dir, fmt.Sprintf("%d-%s", i, filepath.Base(p.plugin.StateFile)))
		data, err := atomicfile.Read(p.plugin.StateFile, stateCopyLimit)
		switch {
		case err == nil:
			if err := os.WriteFile(copyPath, data, 0o600); err != nil {
				release()
				return nil, nil, fmt.Errorf("test run: copying the state file %q: %w", p.plugin.StateFile, err)
			}
		case errors.Is(err, fs.ErrNotExist):
		default:
			notices = append(notices, fmt.Sprintf("W! Test run: %s: the state file %q is unusable (%v), the test run starts with an empty state", p.table, p.plugin.StateFile, err))
		}
		notices = append(notices, fmt.Sprintf("I! Test run: %s reads its state file %q and writes nothing to it", p.table, p.plugin.StateFile))
		p.plugin.StateFile = copyPath
	}
	return notices, release, nil
}

// stateCopyLimit bounds what a test run copies of a state file; alertstate
// refuses larger files anyway.
const stateCopyLimit = 64 << 20
