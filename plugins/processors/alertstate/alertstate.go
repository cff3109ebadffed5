package alertstate

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/processors"
)

//go:embed sample.conf
var sampleConfig string

// legitRunTime is the longest a legitimate test run lasts (the seed's
// invariant); a threshold at or below it will flag healthy runs.
const legitRunTime = 15 * time.Minute

// AlertState turns procblocking metrics into alert events.
type AlertState struct {
	Measurement            string            `toml:"measurement"`
	ScanMeasurement        string            `toml:"scan_measurement"`
	Threshold              config.Duration   `toml:"threshold"`
	Cooldown               config.Duration   `toml:"cooldown"`
	SendRecovery           bool              `toml:"send_recovery"`
	AlertMeasurement       string            `toml:"alert_measurement"`
	DigestAfter            int               `toml:"digest_after"`
	FailedScansBeforeAlert int               `toml:"failed_scans_before_alert"`
	Language               string            `toml:"language"`
	StateFile              string            `toml:"state_file"`
	Templates              map[string]string `toml:"templates"`
	DryRun                 bool              `toml:"-"` // --test: read the state file if any, never write
	Log                    telegraf.Logger   `toml:"-"`

	machine  *Machine
	messages *messages
	store    *stateFile
	// writeFailing is set while state-file writes fail, so that a streak of
	// failures is logged once.
	writeFailing bool
}

func (*AlertState) SampleConfig() string {
	return sampleConfig
}

// Init validates the options and loads the state file. The state is loaded
// here rather than in a Start because a plain processor has none, and
// because Telegraf's statefile (SetState) is applied after Init: loading
// first lets SetState compare the two and keep the newer.
func (a *AlertState) Init() error {
	if a.Measurement == "" {
		return errors.New("invalid 'measurement' \"\": must not be empty")
	}
	if a.ScanMeasurement == "" {
		return errors.New("invalid 'scan_measurement' \"\": must not be empty")
	}
	if a.AlertMeasurement == "" {
		return errors.New("invalid 'alert_measurement' \"\": must not be empty")
	}
	if a.AlertMeasurement == a.Measurement || a.AlertMeasurement == a.ScanMeasurement {
		return fmt.Errorf("invalid 'alert_measurement' %q: must differ from 'measurement' and 'scan_measurement'", a.AlertMeasurement)
	}
	if a.Measurement == a.ScanMeasurement {
		return fmt.Errorf("invalid 'scan_measurement' %q: must differ from 'measurement'", a.ScanMeasurement)
	}
	if a.Threshold <= 0 {
		return fmt.Errorf("invalid 'threshold' %q: must be greater than zero", time.Duration(a.Threshold))
	}
	if a.Cooldown <= 0 {
		return fmt.Errorf("invalid 'cooldown' %q: must be greater than zero", time.Duration(a.Cooldown))
	}
	if a.DigestAfter < 1 {
		return fmt.Errorf("invalid 'digest_after' %d: must be at least 1", a.DigestAfter)
	}
	if a.FailedScansBeforeAlert < 1 {
		return fmt.Errorf("invalid 'failed_scans_before_alert' %d: must be at least 1", a.FailedScansBeforeAlert)
	}
	if _, ok := phraseSets[a.Language]; !ok {
		return fmt.Errorf("invalid 'language' %q: want \"en\" or \"ru\"", a.Language)
	}
	msgs, err := newMessages(a.Language, a.Templates)
	if err != nil {
		return err
	}
	a.messages = msgs
	if time.Duration(a.Threshold) <= legitRunTime {
		a.Log.Warnf("'threshold' %s is at or below %s: legitimate test runs last up to %s and will be reported",
			time.Duration(a.Threshold), legitRunTime, legitRunTime)
	}

	a.machine = NewMachine(MachineConfig{
		Threshold:              time.Duration(a.Threshold),
		Cooldown:               time.Duration(a.Cooldown),
		SendRecovery:           a.SendRecovery,
		DigestAfter:            a.DigestAfter,
		FailedScansBeforeAlert: a.FailedScansBeforeAlert,
	})
	if a.StateFile == "" {
		return nil
	}
	if fi, err := os.Stat(a.StateFile); err == nil && fi.IsDir() {
		return fmt.Errorf("invalid 'state_file' %q: is a directory", a.StateFile)
	}
	if err := os.MkdirAll(filepath.Dir(a.StateFile), 0o750); err != nil {
		// Not fatal: the state is kept in memory and writes are retried.
		a.Log.Warnf("Creating the directory of 'state_file' %q failed: %v", a.StateFile, err)
	}
	a.store = &stateFile{path: a.StateFile}
	a.loadStateFile()
	return nil
}

func (a *AlertState) loadStateFile() {
	res := a.store.load()
	if res.staleTemps > 0 {
		a.Log.Infof("Removed %d temporary file(s) of an interrupted state write next to %q", res.staleTemps, a.StateFile)
	}
	if res.corruptErr != nil {
		if res.movedTo != "" {
			a.Log.Warnf("State file %q is unusable (%v): moved it to %q, starting with an empty state", a.StateFile, res.corruptErr, res.movedTo)
		} else {
			a.Log.Warnf("State file %q is unusable (%v), starting with an empty state", a.StateFile, res.corruptErr)
		}
		return
	}
	if !res.found {
		return
	}
	if err := a.machine.Restore(res.state); err != nil {
		a.Log.Warnf("State file %q: %v, starting with an empty state", a.StateFile, err)
		return
	}
	a.Log.Debugf("Loaded %d alerted process(es) from %q", a.machine.Tracked(), a.StateFile)
}

// Apply passes every metric through unchanged and in order, and appends the
// events of a scan right after the scan metric that closes it.
func (a *AlertState) Apply(in ...telegraf.Metric) []telegraf.Metric {
	var out []telegraf.Metric
	emitted := false
	for i, m := range in {
		var before, after []Event
		switch m.Name() {
		case a.Measurement:
			before = a.observe(m)
		case a.ScanMeasurement:
			after = a.machine.Close(a.scanResult(m))
			emitted = true
		}
		if before == nil && after == nil {
			if out != nil {
				out = append(out, m)
			}
			continue
		}
		emitted = true
		if out == nil {
			out = make([]telegraf.Metric, 0, len(in)+len(before)+len(after))
			out = append(out, in[:i]...)
		}
		out = a.appendEvents(out, before)
		out = append(out, m)
		out = a.appendEvents(out, after)
	}
	if emitted && a.machine.Dirty() {
		a.save()
	}
	if out == nil {
		return in
	}
	return out
}

func (a *AlertState) save() {
	if a.store == nil {
		a.machine.MarkClean()
		return
	}
	if err := a.store.write(a.machine.Snapshot()); err != nil {
		// Keep working from memory and retry after the next scan; one
		// warning per streak of failures.
		if !a.writeFailing {
			a.Log.Warnf("Writing state file failed, keeping the state in memory only: %v", err)
			a.writeFailing = true
		}
		return
	}
	if a.writeFailing {
		a.Log.Infof("Writing state file %q works again", a.StateFile)
		a.writeFailing = false
	}
	a.machine.MarkClean()
}

func (a *AlertState) observe(m telegraf.Metric) []Event {
	var age float64
	var created int64
	var haveAge bool
	for _, f := range m.FieldList() {
		switch f.Key {
		case "age_seconds":
			age, haveAge = toFloat(f.Value)
		case "created_at":
			created, _ = toInt(f.Value)
		}
	}
	if !haveAge {
		return nil
	}
	series, src := hashMetricTags(m.TagList())
	key := ProcKey{Series: series, CreatedAt: created}
	o := Observation{Source: src, Key: key, Time: m.Time(), Age: age}
	if a.machine.Wants(key, age) {
		o.Tags = copyTags(m.TagList())
		o.Info = procInfo(m)
	}
	return a.machine.Observe(o)
}

func (*AlertState) scanResult(m telegraf.Metric) ScanResult {
	tags := copyTags(m.TagList())
	_, src := HashTags(tags)
	r := ScanResult{Source: src, Tags: SourceTags(tags), Time: m.Time()}
	ok, found := m.GetField("ok")
	switch v := ok.(type) {
	case bool:
		r.OK = v
	default:
		// Without a clear ok=true the scan cannot prove a process gone.
		r.OK = false
		if !found {
			r.Error = "scan metric has no 'ok' field"
		} else {
			r.Error = fmt.Sprintf("scan metric has a non-boolean 'ok' field %v", ok)
		}
	}
	if e, ok := m.GetField("error"); ok {
		if s, ok := e.(string); ok {
			r.Error = s
		}
	}
	return r
}

func procInfo(m telegraf.Metric) ProcInfo {
	var info ProcInfo
	for _, f := range m.FieldList() {
		switch f.Key {
		case "cpu_seconds":
			info.CPUSeconds, _ = toFloat(f.Value)
		case "cpu_usage":
			info.CPUUsage, info.HasCPUUsage = toFloat(f.Value)
		case "ppid":
			info.PPID, _ = toInt(f.Value)
		case "orphan":
			info.Orphan, _ = f.Value.(bool)
		case "cmdline":
			info.Cmdline, _ = f.Value.(string)
		case "container_id":
			info.ContainerID, _ = f.Value.(string)
		case "comm":
			info.Comm, _ = f.Value.(string)
		}
	}
	if pid, ok := m.GetTag(tagPID); ok {
		info.PID, _ = strconv.ParseInt(pid, 10, 64)
	}
	return info
}

func (a *AlertState) appendEvents(out []telegraf.Metric, events []Event) []telegraf.Metric {
	for i := range events {
		out = append(out, a.eventMetric(&events[i]))
	}
	return out
}

func (a *AlertState) eventMetric(ev *Event) telegraf.Metric {
	msg, err := a.messages.render(ev)
	if err != nil {
		a.Log.Warnf("Template for %q failed, sent the built-in message: %v", ev.Kind, err)
	}
	tags := map[string]string{"event": string(ev.Kind)}
	fields := map[string]interface{}{"message": msg, "count": int64(ev.Count)}
	switch {
	case ev.Kind == KindScanFailed:
		fields["error"] = ev.Error
		fallthrough
	case len(ev.Procs) != 1:
		for _, t := range ev.SourceTags {
			tags[t.Key] = t.Value
		}
	default:
		p := &ev.Procs[0]
		for _, t := range p.Tags {
			tags[t.Key] = t.Value
		}
		fields["pid"] = p.Info.PID
		fields["age_seconds"] = p.AgeSeconds
		fields["cpu_seconds"] = p.Info.CPUSeconds
		if p.Info.HasCPUUsage {
			fields["cpu_usage"] = p.Info.CPUUsage
		}
		fields["orphan"] = p.Info.Orphan
		fields["ppid"] = p.Info.PPID
		fields["cmdline"] = p.Info.Cmdline
		if p.Info.ContainerID != "" {
			fields["container_id"] = p.Info.ContainerID
		}
		fields["alerts_sent"] = int64(p.AlertsSent)
		fields["first_alert_at"] = p.FirstAlertAt.UnixNano()
	}
	tags["event"] = string(ev.Kind) // a process tag named event must not win
	return metric.New(a.AlertMeasurement, tags, fields, ev.Time)
}

// GetState returns the state for Telegraf's statefile.
func (a *AlertState) GetState() interface{} {
	return a.machine.Snapshot()
}

// SetState restores the state kept by Telegraf's statefile. That file is
// only written on a clean stop while the own state file is written after
// every change, so the two can disagree: the one with the higher generation
// (more changes behind it) wins.
func (a *AlertState) SetState(state interface{}) error {
	st, ok := state.(State)
	if !ok {
		return fmt.Errorf("state has wrong type %T", state)
	}
	if st.Generation <= a.machine.Generation() {
		a.Log.Debugf("Ignoring Telegraf's saved state (generation %d): the state file's is newer (generation %d)",
			st.Generation, a.machine.Generation())
		return nil
	}
	// An error here would stop the agent: a bad saved state is not worth it.
	if err := a.machine.Restore(st); err != nil {
		a.Log.Warnf("Ignoring Telegraf's saved state: %v", err)
		return nil
	}
	// The own state file is older: replace it with the next scan.
	a.machine.dirty = true
	return nil
}

func hashMetricTags(tags []*telegraf.Tag) (series, source uint64) {
	series, source = fnvOffset, fnvOffset
	for _, t := range tags {
		series = fnvTag(series, t.Key, t.Value)
		if t.Key != tagPID && t.Key != tagPattern {
			source = fnvTag(source, t.Key, t.Value)
		}
	}
	return series, source
}

func copyTags(tags []*telegraf.Tag) []Tag {
	out := make([]Tag, len(tags))
	for i, t := range tags {
		out[i] = Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

func toFloat(v interface{}) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

func toInt(v interface{}) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case uint64:
		return int64(x), true //nolint:gosec // unix ns and PIDs fit
	case float64:
		return int64(x), true
	}
	return 0, false
}

func init() {
	processors.Add("alertstate", func() telegraf.Processor {
		return &AlertState{
			Measurement:            "procblocking",
			ScanMeasurement:        "procblocking_scan",
			Threshold:              config.Duration(60 * time.Minute),
			Cooldown:               config.Duration(30 * time.Minute),
			SendRecovery:           true,
			AlertMeasurement:       "procblocking_alert",
			DigestAfter:            5,
			FailedScansBeforeAlert: 3,
			Language:               "en",
		}
	})
}
