//go:generate go tool readme_config_includer
package alertstate

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/processors"

	"github.com/procblocking/procblocking/internal/chatactions"
	"github.com/procblocking/procblocking/internal/statedir"
	"github.com/procblocking/procblocking/internal/streak"
	"github.com/procblocking/procblocking/plugins/processors/alertstate/internal/machine"
)

//go:embed sample.conf
var sampleConfig string

// AlertState turns procblocking metrics into alert events.
type AlertState struct {
	Measurement            string            `toml:"measurement"`
	ScanMeasurement        string            `toml:"scan_measurement"`
	Threshold              config.Duration   `toml:"threshold"`
	Cooldown               config.Duration   `toml:"cooldown"`
	SendRecovery           bool              `toml:"send_recovery"`
	AlertMeasurement       string            `toml:"alert_measurement"`
	DigestAfter            int               `toml:"digest_after"`
	GroupInterval          config.Duration   `toml:"group_interval"`
	FailedScansBeforeAlert int               `toml:"failed_scans_before_alert"`
	ForgetAfter            config.Duration   `toml:"forget_after"`
	GroupBy                []string          `toml:"group_by"`
	SilentAfter            config.Duration   `toml:"silent_after"`
	Language               string            `toml:"language"`
	StateFile              string            `toml:"state_file"`
	Templates              map[string]string `toml:"templates"`

	Log telegraf.Logger `toml:"-"`

	machine  *machine.Machine
	messages *messages
	// writes logs a streak of failed state-file writes once.
	writes streak.Failures
	// now is the clock silent_after is measured by; tests set their own.
	now func() time.Time
}

// The shortest forget_after: a source silent for less is likely only slow
// or restarting, and forgetting it would alert its jobs again.
const minForgetAfter = time.Hour

func (*AlertState) SampleConfig() string {
	return sampleConfig
}

// Init validates the options and loads the state file (a plain processor
// has no Start).
func (a *AlertState) Init() error {
	if err := a.validate(); err != nil {
		return err
	}
	msgs, err := newMessages(a.Language, a.Templates)
	if err != nil {
		return err
	}
	a.messages = msgs
	a.machine = machine.New(machine.Config{
		Threshold:              time.Duration(a.Threshold),
		Cooldown:               time.Duration(a.Cooldown),
		SendRecovery:           a.SendRecovery,
		DigestAfter:            a.DigestAfter,
		FailedScansBeforeAlert: a.FailedScansBeforeAlert,
		GroupInterval:          time.Duration(a.GroupInterval),
		ForgetAfter:            time.Duration(a.ForgetAfter),
		Notify:                 a.logNotice,
		Fleet:                  a.fleetConfig(),
	})
	if a.StateFile == "" {
		a.Log.Info("No 'state_file': the alert state is kept in memory only, a restart or a reload alerts again")
		return nil
	}
	if fi, err := os.Stat(a.StateFile); err == nil && fi.IsDir() {
		return fmt.Errorf("invalid 'state_file' %q: is a directory", a.StateFile)
	}
	if err := os.MkdirAll(filepath.Dir(a.StateFile), 0o750); err != nil {
		// Not fatal: the state is kept in memory and writes are retried.
		a.Log.Warnf("Creating the directory of 'state_file' %q failed: %v", a.StateFile, err)
	}
	if st, ok := a.loadStateFile(); ok {
		if err := a.machine.Restore(st); err != nil {
			a.Log.Warnf("State file %q: %v, starting with an empty state", a.StateFile, err)
		}
	}
	a.Log.Infof("Keeping the alert state in %q (%d alerted job(s) loaded)", a.StateFile, a.machine.Jobs())
	return nil
}

func (a *AlertState) validate() error {
	for _, o := range []struct{ name, value string }{
		{"measurement", a.Measurement}, {"scan_measurement", a.ScanMeasurement}, {"alert_measurement", a.AlertMeasurement},
	} {
		if o.value == "" {
			return fmt.Errorf("invalid '%s' \"\": must not be empty", o.name)
		}
	}
	switch {
	case a.AlertMeasurement == a.Measurement || a.AlertMeasurement == a.ScanMeasurement:
		return fmt.Errorf("invalid 'alert_measurement' %q: must differ from 'measurement' and 'scan_measurement'", a.AlertMeasurement)
	case a.Measurement == a.ScanMeasurement:
		return fmt.Errorf("invalid 'scan_measurement' %q: must differ from 'measurement'", a.ScanMeasurement)
	case a.Threshold <= 0:
		return fmt.Errorf("invalid 'threshold' %q: must be greater than zero", time.Duration(a.Threshold))
	case a.Cooldown <= 0:
		return fmt.Errorf("invalid 'cooldown' %q: must be greater than zero", time.Duration(a.Cooldown))
	case a.DigestAfter < 1:
		return fmt.Errorf("invalid 'digest_after' \"%d\": must be at least 1", a.DigestAfter)
	case a.GroupInterval < 0:
		return fmt.Errorf("invalid 'group_interval' %q: must not be negative (0s sends every scan's events at once)", time.Duration(a.GroupInterval))
	case a.FailedScansBeforeAlert < 1:
		return fmt.Errorf("invalid 'failed_scans_before_alert' \"%d\": must be at least 1", a.FailedScansBeforeAlert)
	case time.Duration(a.ForgetAfter) < minForgetAfter:
		return fmt.Errorf("invalid 'forget_after' %q: must be at least %s, or a source that is only slow or restarting would be forgotten",
			time.Duration(a.ForgetAfter), minForgetAfter)
	}
	if _, ok := languages[a.Language]; !ok {
		return fmt.Errorf("invalid 'language' %q: want \"en\" or \"ru\"", a.Language)
	}
	return a.validateFleet()
}

// Apply passes every metric through unchanged and in order, and appends the
// events of a scan right after the scan metric that closes it.
func (a *AlertState) Apply(in ...telegraf.Metric) []telegraf.Metric {
	var out []telegraf.Metric
	decisions := a.machine.Decisions()
	for i, m := range in {
		var before, after []machine.Event
		var answers []telegraf.Metric
		switch m.Name() {
		case a.Measurement:
			before = a.observe(m)
		case a.ScanMeasurement:
			after = a.closeScan(m)
		case chatactions.Measurement:
			answers = a.act(m)
		}
		if before == nil && after == nil && answers == nil {
			if out != nil {
				out = append(out, m)
			}
			continue
		}
		if out == nil {
			out = make([]telegraf.Metric, 0, len(in)+len(before)+len(after))
			out = append(out, in[:i]...)
		}
		out = a.appendEvents(out, before)
		out = append(out, m)
		out = a.appendEvents(out, after)
		out = append(out, answers...)
	}
	// Written after a decision that changed the state, not per metric: a
	// failing write is retried at the next decision.
	if a.machine.Decisions() != decisions && a.machine.Dirty() {
		a.save()
	}
	if out == nil {
		return in
	}
	return out
}

func (a *AlertState) logNotice(n machine.Notice) {
	switch n.Kind {
	case machine.NoticeClockBack:
		a.Log.Warnf("Stored times of source %s lay up to %s after its metrics' time (the clock stepped back?): taken as now",
			describeTags(n.SourceTags), n.By)
	case machine.NoticeShortScans:
		a.Log.Warnf("Scans of source %s keep coming with fewer process metrics than they report (%d of %d): they are taken as complete again. Are procblocking metrics filtered out before alertstate?",
			describeTags(n.SourceTags), n.Arrived, n.Reported)
	case machine.NoticeForgotten:
		a.Log.Infof("Forgot source %s, not heard from for %s ('forget_after' is %s): dropped %d alerted job(s) without a recovery",
			describeTags(n.SourceTags), n.By.Round(time.Second), time.Duration(a.ForgetAfter), n.Jobs)
	}
}

func describeTags(tags []machine.Tag) string {
	parts := make([]string, 0, len(tags))
	for _, t := range tags {
		parts = append(parts, t.Key+"="+t.Value)
	}
	return "{" + strings.Join(parts, ", ") + "}"
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
			GroupInterval:          config.Duration(time.Minute),
			FailedScansBeforeAlert: 3,
			ForgetAfter:            config.Duration(7 * 24 * time.Hour),
			GroupBy:                []string{groupBySource},
			SilentAfter:            config.Duration(defaultSilentAfter),
			Language:               "en",
			StateFile:              statedir.File("alertstate.json"),
		}
	})
}
