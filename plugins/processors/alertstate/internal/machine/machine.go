// Package machine is the alert state machine of processors.alertstate, free
// of Telegraf types so that it can be driven and tested as a pure function of
// its inputs: observations of processes and the results of scans, each
// carrying the timestamp of the metric it came from. The wall clock is never
// read.
//
// The unit of alerting is the job: the topmost matching process of a chain
// of matching processes, with its matching descendants. A job is alerted,
// realerted and recovered as one.
package machine

import (
	"math"
	"time"
)

// Kind is the kind of an event; it becomes the `event` tag.
type Kind string

// The event kinds, in the order the events of one scan are emitted.
const (
	KindScanRecovered Kind = "scan_recovered"
	KindAlert         Kind = "alert"
	KindRealert       Kind = "realert"
	KindRecovery      Kind = "recovery"
	KindScanFailed    Kind = "scan_failed"
	KindSilent        Kind = "source_silent"
	KindHeardAgain    Kind = "source_back"
)

// Kinds lists the event kinds in the order the events of one scan are
// emitted.
var Kinds = []Kind{KindScanRecovered, KindAlert, KindRealert, KindRecovery, KindScanFailed, KindSilent, KindHeardAgain}

// Tag is one tag of a source.
type Tag struct {
	Key, Value string
}

// JobID identifies a job within its source: the PID and the start time of
// its top process, so that a reused PID is another job.
type JobID struct {
	PID       int64
	CreatedAt int64 // unix ns
}

// Proc is what the machine knows of one process.
type Proc struct {
	PID         int64
	PPID        int64
	CreatedAt   int64   // unix ns
	Age         float64 // seconds, at the observation
	CPUSeconds  float64
	CPUUsage    float64
	HasCPUUsage bool
	Orphan      bool
	OrphanKnown bool
	Pattern     string
	Cmdline     string
	ContainerID string
	Comm        string
}

// Observation is one process seen by one scan of one source.
type Observation struct {
	Source uint64
	Job    JobID
	Time   int64 // unix ns of the metric
	// JobAge is the age of the job's top process in seconds; for the top
	// itself it is Proc.Age.
	JobAge float64
	// Top tells whether this process is the top of its job.
	Top bool
	// SourceTags are needed only when the source is new (see KnowsSource).
	SourceTags []Tag
	Proc       Proc
}

// ScanResult closes the scan of one source.
type ScanResult struct {
	Source uint64
	Tags   []Tag
	Time   int64 // unix ns
	OK     bool
	Error  string
	// Processes is how many process metrics the scan reports (its matched
	// and descendant processes); negative when it does not say.
	Processes int64
}

// Snapshot is the state of one job as an event reports it.
type Snapshot struct {
	Job JobID
	// Head is the process the event names: the job's top process, or its
	// oldest process seen when the top was not among the metrics.
	Head         Proc
	Others       []Proc // the job's other processes, by PID
	AlertsSent   int64
	FirstAlertAt int64 // unix ns
	LastSeenAt   int64 // unix ns
	// Vanished is set on a recovery when the job is gone (rather than back
	// under the threshold).
	Vanished bool
	// The job's source: events of a group of several sources carry jobs of
	// each.
	Source     uint64
	SourceTags []Tag
	Mute       *Mute // acknowledged or snoozed from the chat; nil: neither
}

// Event is one alert event: about one job (len(Jobs) == 1), a digest of
// several (more than digest_after of one kind at once), or about a source's
// scans (no jobs).
type Event struct {
	Kind       Kind
	Time       int64 // unix ns
	Source     uint64
	SourceTags []Tag
	Jobs       []Snapshot
	Error      string // scan_failed only
	Failures   int    // scan_failed and scan_recovered: failed scans in a row
	// Silent: source_silent and source_back, how long the source was not
	// heard from.
	Silent time.Duration
}

// Digest tells whether the event stands for several jobs.
func (e *Event) Digest() bool { return len(e.Jobs) > 1 }

// NoticeKind says what a Notice reports.
type NoticeKind int

// The notices the machine gives its owner to log.
const (
	// NoticeClockBack: stored times of a source lay in the future of its
	// metrics (the clock stepped back); they were taken as now.
	NoticeClockBack NoticeKind = iota + 1
	// NoticeForgotten: a source not heard from for forget_after was dropped
	// with its jobs.
	NoticeForgotten
	// NoticeShortScans: scans of a source keep coming with fewer process
	// metrics than they report; they prove jobs gone all the same.
	NoticeShortScans
)

// Notice is something worth a log line that is not an event.
type Notice struct {
	Kind       NoticeKind
	SourceTags []Tag
	Jobs       int           // NoticeForgotten: the alerted jobs dropped
	By         time.Duration // NoticeClockBack: how far in the future; NoticeForgotten: how long not heard from
	// NoticeShortScans: the process metrics of the last scan that arrived,
	// and those it reports.
	Arrived, Reported int64
}

// Config holds the decided options of the machine.
type Config struct {
	Threshold              time.Duration
	Cooldown               time.Duration
	SendRecovery           bool
	DigestAfter            int
	FailedScansBeforeAlert int
	// GroupInterval holds new alerts and recoveries of a source that has
	// just sent some, to send them together once it has passed.
	GroupInterval time.Duration
	// ForgetAfter drops a source not heard from for this long.
	ForgetAfter time.Duration
	// Notify, if set, receives the notices.
	Notify func(Notice)
	// Fleet holds the options of a machine deciding for many sources.
	Fleet
}

type job struct {
	id     JobID
	head   Proc
	others []Proc
	// alerts counts the alerts sent; 0 while the first alert is held.
	alerts     int64
	firstAlert int64
	lastAlert  int64
	lastSeen   int64
	seenGen    uint64 // the scan that last saw the job
	realertDue bool   // its realert is held by its group's window
	mute       *Mute  // acknowledged or snoozed (actions.go)

	// During the decision on a scan.
	lastDecision uint64 // the number of the decision that last saw the job
	jobAge       float64
	headTop      bool
	fresh        bool // created by this scan
}

type source struct {
	id        uint64
	tags      []Tag
	jobs      map[JobID]*job
	gen       uint64 // number of the scan now open; starts at 1
	pending   []Observation
	pendTime  int64
	failures  int
	blind     bool
	lastHeard int64
	// The group window: new alerts and recoveries are held while it is open.
	windowEnd int64
	held      int        // jobs whose first alert is held
	recovered []Snapshot // recoveries held; AlertsSent 0: the alert too
	clockBack bool       // within an episode of stored times in the future
	fleet     sourceFleet
	// count counts the process metrics of the latest scan (complete.go);
	// shortScans the scans in a row that came with fewer than they report.
	count      scanCount
	shortScans int
}

// Machine is the alert state machine. It is not safe for concurrent use;
// Telegraf never calls a processor's Apply concurrently.
type Machine struct {
	cfg       Config
	threshold float64 // seconds
	sources   map[uint64]*source
	dirty     bool
	// restored: the sources were loaded from a saved state, and the time
	// the agent was down must not count as their silence.
	restored bool
	touched  []*job // reused by every decision
	// decisions numbers the decisions, to tell a job's first observation
	// in one.
	decisions uint64
	fleet     machineFleet
}

// New returns an empty machine.
func New(cfg Config) *Machine {
	return &Machine{
		cfg:       cfg,
		threshold: cfg.Threshold.Seconds(),
		sources:   make(map[uint64]*source),
	}
}

// Jobs is the number of jobs the machine holds state for: those alerted (or
// whose alert is held) and not yet recovered.
func (m *Machine) Jobs() int {
	n := 0
	for _, s := range m.sources {
		n += len(s.jobs)
	}
	return n
}

// Dirty tells whether the state changed since it was last saved.
func (m *Machine) Dirty() bool { return m.dirty }

// MarkSaved records that the current state has been saved.
func (m *Machine) MarkSaved() { m.dirty = false }

// changed marks the state as differing from the saved one.
func (m *Machine) changed() { m.dirty = true }

// Decisions counts the decisions taken so far (on a closed scan, or on a
// scan a newer timestamp ended); the state can only change in one.
func (m *Machine) Decisions() uint64 { return m.decisions }

// KnowsSource tells whether the machine has state for a source; the
// observations of an unknown source must carry its tags.
func (m *Machine) KnowsSource(id uint64) bool {
	_, ok := m.sources[id]
	return ok
}

func (m *Machine) newSource(id uint64, tags []Tag) *source {
	s := &source{id: id, tags: tags, jobs: make(map[JobID]*job), gen: 1}
	m.sources[id] = s
	m.joinGroup(s)
	return s
}

// heard records a metric of the source at t.
func (m *Machine) heard(s *source, t int64) {
	if m.restored {
		// The first metric after a restart: the time the agent was down is
		// not silence of the sources.
		m.restored = false
		for _, o := range m.sources {
			o.lastHeard = max(o.lastHeard, t)
		}
	}
	// Also when t is older: a stored time in the future counts as now.
	s.lastHeard = t
	m.arrived(s)
}

// Observe records one observation. Decisions are taken when the scan of its
// source closes; the events it returns (usually none) are those of an older
// scan of the same source that never got a scan result: they are decided
// when an observation with a newer timestamp arrives.
func (m *Machine) Observe(o Observation) []Event {
	s := m.sources[o.Source]
	if s != nil {
		if m.late(s, o.Time) {
			return nil
		}
		s.count.counted(o.Time)
	}
	if math.IsNaN(o.JobAge) || math.IsInf(o.JobAge, 0) {
		return nil
	}
	if s == nil {
		if !(o.JobAge > m.threshold) {
			return nil
		}
		s = m.newSource(o.Source, sourceTags(o.SourceTags))
		s.count.counted(o.Time)
	}
	m.heard(s, o.Time)
	var flushed []Event
	if len(s.pending) > 0 && o.Time > s.pendTime {
		flushed = m.flush(s)
	}
	if !(o.JobAge > m.threshold) && s.jobs[o.Job] == nil {
		return flushed
	}
	if len(s.pending) == 0 || o.Time > s.pendTime {
		s.pendTime = o.Time
	}
	o.SourceTags = nil
	s.pending = append(s.pending, o)
	return flushed
}

// flush decides on the pending observations of a source without a scan
// result, so without telling which jobs are gone.
func (m *Machine) flush(s *source) []Event {
	t := s.pendTime
	var b batch
	m.decide(s, t, &b)
	m.releaseDue(s, t, &b)
	return m.grouped(append(m.assemble(&b, nil, t, s), m.others(t, s)...))
}

// CloseScan closes the scan of one source: decides on the observations of the
// scan, and on a good scan reports the jobs it did not see as recovered. It
// also sends what other sources held once their window has passed, and
// forgets the sources not heard from for ForgetAfter.
func (m *Machine) CloseScan(r ScanResult) []Event {
	t := r.Time
	s := m.sources[r.Source]
	if s == nil {
		s = m.newSource(r.Source, sourceTags(r.Tags))
	} else if m.late(s, t) {
		return nil
	}
	m.heard(s, t)
	var b batch
	m.decide(s, t, &b)
	var scanEvents []Event
	if r.OK {
		if m.complete(s, t, r.Processes) {
			m.vanish(s)
		}
		if s.blind {
			scanEvents = append(scanEvents, Event{Kind: KindScanRecovered, Failures: s.failures})
			s.blind = false
		}
		if s.failures != 0 {
			s.failures = 0
			m.changed()
		}
	} else if ev, ok := m.failScan(s, r.Error); ok {
		scanEvents = append(scanEvents, ev)
	}
	s.gen++
	m.releaseDue(s, t, &b)
	return m.grouped(append(m.assemble(&b, scanEvents, t, s), m.others(t, s)...))
}

// others sends what other sources held once their window has passed by t,
// and forgets the sources not heard from for ForgetAfter.
func (m *Machine) others(t int64, current *source) []Event {
	var out []Event
	for _, o := range m.sortedSources() {
		if o != current && o.holds() && t >= o.windowEnd {
			var b batch
			m.release(o, t, &b)
			out = append(out, m.assemble(&b, nil, t, o)...)
		}
	}
	out = append(out, m.forget(t, current)...)
	return append(out, m.silence(t)...)
}

// failScan records a failed scan of the source and returns the scan_failed
// event when the streak reaches FailedScansBeforeAlert.
func (m *Machine) failScan(s *source, errText string) (Event, bool) {
	if s.failures < math.MaxInt {
		s.failures++
	}
	// Once blind, further failures change nothing worth a write.
	if s.blind {
		return Event{}, false
	}
	m.changed()
	if s.failures < m.cfg.FailedScansBeforeAlert {
		return Event{}, false
	}
	s.blind = true
	return Event{Kind: KindScanFailed, Failures: s.failures, Error: errText}, true
}
