package alertstate

// The alert state machine, free of Telegraf types so that it can be driven
// and tested as a pure function of its inputs: observations of processes and
// the results of scans, each carrying the timestamp of the metric it came
// from. The wall clock is never read.

import (
	"math"
	"slices"
	"sort"
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
)

var kindOrder = []Kind{KindScanRecovered, KindAlert, KindRealert, KindRecovery, KindScanFailed}

// Tag is one tag of a process or a source.
type Tag struct {
	Key, Value string
}

// ProcKey identifies one process: its series (all its tags) and its start
// time, so that a reused PID with another start time is another process.
type ProcKey struct {
	Series    uint64
	CreatedAt int64
}

// ProcInfo is what an event says about a process besides its tags.
type ProcInfo struct {
	PID         int64
	PPID        int64
	CPUSeconds  float64
	CPUUsage    float64
	HasCPUUsage bool
	Orphan      bool
	Cmdline     string
	ContainerID string
	Comm        string
}

// Observation is one process seen by one scan of one source.
type Observation struct {
	Source uint64
	Key    ProcKey
	Time   time.Time
	Age    float64 // seconds
	// Tags and Info are only read when the machine wants the observation
	// (see Wants), so that the caller can skip building them otherwise.
	Tags []Tag
	Info ProcInfo
}

// ScanResult closes the scan of one source.
type ScanResult struct {
	Source uint64
	Tags   []Tag
	Time   time.Time
	OK     bool
	Error  string
}

// Snapshot is the state of one process as reported by an event.
type Snapshot struct {
	Tags         []Tag
	CreatedAt    int64
	AgeSeconds   float64
	Info         ProcInfo
	AlertsSent   int
	FirstAlertAt time.Time
	LastSeenAt   time.Time
	// Vanished is set on a recovery when the process is gone (rather than
	// back below the threshold).
	Vanished bool
}

// Event is one alert event: about one process (len(Procs) == 1 and Count ==
// 1), a digest of several (Count == len(Procs) > 1), or about a source's scans.
type Event struct {
	Kind       Kind
	Time       time.Time
	SourceTags []Tag
	Count      int
	Procs      []Snapshot
	Error      string // scan_failed only
	Failures   int    // scan_failed and scan_recovered: consecutive failed scans
}

// Digest tells whether the event stands for several processes.
func (e *Event) Digest() bool { return len(e.Procs) > 1 }

// MachineConfig holds the decided options of the machine.
type MachineConfig struct {
	Threshold              time.Duration
	Cooldown               time.Duration
	SendRecovery           bool
	DigestAfter            int
	FailedScansBeforeAlert int
}

type proc struct {
	source     uint64
	tags       []Tag
	createdAt  int64
	age        float64
	info       ProcInfo
	firstAlert int64 // unix ns
	lastAlert  int64
	lastSeen   int64
	alerts     int
	seenGen    uint64
}

type source struct {
	tags     []Tag
	gen      uint64 // number of the scan now open; starts at 1
	pending  []Observation
	pendTime int64
	failures int
	blind    bool
}

// Machine is the alert state machine. It is not safe for concurrent use;
// Telegraf never calls a processor's Apply concurrently.
type Machine struct {
	cfg        MachineConfig
	threshold  float64 // seconds
	procs      map[ProcKey]*proc
	sources    map[uint64]*source
	generation uint64
	dirty      bool
}

// NewMachine returns an empty machine.
func NewMachine(cfg MachineConfig) *Machine {
	return &Machine{
		cfg:       cfg,
		threshold: cfg.Threshold.Seconds(),
		procs:     make(map[ProcKey]*proc),
		sources:   make(map[uint64]*source),
	}
}

// Tracked is the number of processes the machine holds state for: those
// alerted and not yet recovered.
func (m *Machine) Tracked() int { return len(m.procs) }

// Dirty tells whether the state changed since the last MarkClean.
func (m *Machine) Dirty() bool { return m.dirty }

// MarkClean records that the current state has been saved.
func (m *Machine) MarkClean() { m.dirty = false }

// Generation counts the committed changes of the state; the newer of two
// states of one processor is the one with the higher generation.
func (m *Machine) Generation() uint64 { return m.generation }

func (m *Machine) changed() {
	if !m.dirty {
		m.generation++
	}
	m.dirty = true
}

// Wants tells whether an observation matters: the process is above the
// threshold or already tracked. Others need neither Tags nor Info.
func (m *Machine) Wants(key ProcKey, age float64) bool {
	if age > m.threshold {
		return true
	}
	_, ok := m.procs[key]
	return ok
}

func (m *Machine) source(id uint64) *source {
	s, ok := m.sources[id]
	if !ok {
		s = &source{gen: 1}
		m.sources[id] = s
	}
	return s
}

// Observe records one observation. Decisions are taken when the scan of its
// source closes; the events it returns (usually none) are those of an older
// scan of the same source that never got a scan result: they are flushed
// when an observation with a newer timestamp arrives.
func (m *Machine) Observe(o Observation) []Event {
	if math.IsNaN(o.Age) || math.IsInf(o.Age, 0) {
		return nil
	}
	s, ok := m.sources[o.Source]
	if !ok {
		if !m.Wants(o.Key, o.Age) {
			return nil
		}
		s = m.source(o.Source)
	}
	t := o.Time.UnixNano()
	var flushed []Event
	if len(s.pending) > 0 && t > s.pendTime {
		flushed = m.flush(s)
	}
	if !m.Wants(o.Key, o.Age) {
		return flushed
	}
	if len(s.pending) == 0 || t > s.pendTime {
		s.pendTime = t
	}
	s.pending = append(s.pending, o)
	return flushed
}

// Close closes the scan of one source: decides on the observations of the
// scan, and on a good scan reports the alerted processes it did not see as
// recovered.
func (m *Machine) Close(r ScanResult) []Event {
	s := m.source(r.Source)
	if r.Tags != nil {
		s.tags = r.Tags
	}
	var byKind map[Kind][]Snapshot
	add := func(k Kind, snap Snapshot) {
		if byKind == nil {
			byKind = make(map[Kind][]Snapshot)
		}
		byKind[k] = append(byKind[k], snap)
	}
	m.decideInto(s, add)

	var scanEvents []Event
	if r.OK {
		var gone []*proc
		for key, p := range m.procs {
			if p.source == r.Source && p.seenGen != s.gen {
				gone = append(gone, p)
				delete(m.procs, key)
			}
		}
		if len(gone) > 0 {
			m.changed()
			sortProcs(gone)
			for _, p := range gone {
				if m.cfg.SendRecovery {
					snap := p.snapshot()
					snap.Vanished = true
					add(KindRecovery, snap)
				}
			}
		}
		if s.blind {
			scanEvents = append(scanEvents, Event{Kind: KindScanRecovered, Failures: s.failures, Count: s.failures})
			s.blind = false
		}
		if s.failures != 0 {
			s.failures = 0
			m.changed()
		}
	} else {
		s.failures++
		// Once blind, further failures change nothing worth a write.
		if !s.blind {
			m.changed()
			if s.failures >= m.cfg.FailedScansBeforeAlert {
				s.blind = true
				scanEvents = append(scanEvents, Event{Kind: KindScanFailed, Failures: s.failures, Count: s.failures, Error: r.Error})
			}
		}
	}
	s.gen++
	return m.assemble(byKind, scanEvents, r.Time, s.tags)
}

// flush decides on the pending observations of a source without a scan
// result (so without vanish detection).
func (m *Machine) flush(s *source) []Event {
	var byKind map[Kind][]Snapshot
	m.decideInto(s, func(k Kind, snap Snapshot) {
		if byKind == nil {
			byKind = make(map[Kind][]Snapshot)
		}
		byKind[k] = append(byKind[k], snap)
	})
	t := time.Unix(0, s.pendTime).UTC()
	var tags []Tag
	if s.tags != nil {
		tags = s.tags
	} else if len(byKind) > 0 {
		for _, k := range kindOrder {
			if snaps := byKind[k]; len(snaps) > 0 {
				tags = SourceTags(snaps[0].Tags)
				break
			}
		}
	}
	return m.assemble(byKind, nil, t, tags)
}

func (m *Machine) decideInto(s *source, add func(Kind, Snapshot)) {
	cooldown := m.cfg.Cooldown.Nanoseconds()
	for i := range s.pending {
		o := &s.pending[i]
		t := o.Time.UnixNano()
		p, tracked := m.procs[o.Key]
		if tracked {
			p.seenGen = s.gen
			if t < p.lastSeen {
				continue // out of order: older than what decided the state
			}
			p.lastSeen = t
			p.age = o.Age
			p.info = sanitizeInfo(o.Info)
			if o.Age > m.threshold {
				if t-p.lastAlert >= cooldown {
					p.lastAlert = t
					p.alerts++
					m.changed()
					add(KindRealert, p.snapshot())
				}
				continue
			}
			delete(m.procs, o.Key)
			m.changed()
			if m.cfg.SendRecovery {
				add(KindRecovery, p.snapshot())
			}
			continue
		}
		if !(o.Age > m.threshold) {
			continue
		}
		p = &proc{
			source:     o.Source,
			tags:       o.Tags,
			createdAt:  o.Key.CreatedAt,
			age:        o.Age,
			info:       sanitizeInfo(o.Info),
			firstAlert: t,
			lastAlert:  t,
			lastSeen:   t,
			alerts:     1,
			seenGen:    s.gen,
		}
		m.procs[o.Key] = p
		m.changed()
		add(KindAlert, p.snapshot())
	}
	n := len(s.pending)
	clear(s.pending)
	s.pending = s.pending[:0]
	if cap(s.pending) > 1024 && cap(s.pending) > 4*n {
		s.pending = nil // do not keep a huge buffer after a storm
	}
}

func (m *Machine) assemble(byKind map[Kind][]Snapshot, scanEvents []Event, t time.Time, srcTags []Tag) []Event {
	if len(byKind) == 0 && len(scanEvents) == 0 {
		return nil
	}
	var out []Event
	for _, k := range kindOrder {
		for _, e := range scanEvents {
			if e.Kind == k {
				e.Time = t
				e.SourceTags = srcTags
				out = append(out, e)
			}
		}
		snaps := byKind[k]
		if len(snaps) == 0 {
			continue
		}
		if len(snaps) > m.cfg.DigestAfter {
			out = append(out, Event{Kind: k, Time: t, SourceTags: srcTags, Count: len(snaps), Procs: snaps})
			continue
		}
		for _, snap := range snaps {
			out = append(out, Event{Kind: k, Time: t, SourceTags: srcTags, Count: 1, Procs: []Snapshot{snap}})
		}
	}
	return out
}

func (p *proc) snapshot() Snapshot {
	return Snapshot{
		Tags:         p.tags,
		CreatedAt:    p.createdAt,
		AgeSeconds:   p.age,
		Info:         p.info,
		AlertsSent:   p.alerts,
		FirstAlertAt: time.Unix(0, p.firstAlert).UTC(),
		LastSeenAt:   time.Unix(0, p.lastSeen).UTC(),
	}
}

func sortProcs(ps []*proc) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].info.PID != ps[j].info.PID {
			return ps[i].info.PID < ps[j].info.PID
		}
		if ps[i].createdAt != ps[j].createdAt {
			return ps[i].createdAt < ps[j].createdAt
		}
		return tagsLess(ps[i].tags, ps[j].tags)
	})
}

func tagsLess(a, b []Tag) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			if a[i].Key != b[i].Key {
				return a[i].Key < b[i].Key
			}
			return a[i].Value < b[i].Value
		}
	}
	return len(a) < len(b)
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

func sanitizeInfo(i ProcInfo) ProcInfo {
	i.CPUSeconds = finite(i.CPUSeconds)
	if math.IsNaN(i.CPUUsage) || math.IsInf(i.CPUUsage, 0) {
		i.CPUUsage, i.HasCPUUsage = 0, false
	}
	return i
}

// The tags that make a process metric's series differ from its source's.
const (
	tagPID     = "pid"
	tagPattern = "pattern"
)

// SourceTags is the tag set of a process minus pid and pattern.
func SourceTags(tags []Tag) []Tag {
	out := make([]Tag, 0, len(tags))
	for _, t := range tags {
		if t.Key != tagPID && t.Key != tagPattern {
			out = append(out, t)
		}
	}
	return out
}

// FNV-1a, written out so that hashing a metric's tags does not allocate.
const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime  uint64 = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func fnvTag(h uint64, key, value string) uint64 {
	h = fnvString(h, key)
	h = (h ^ 0xff) * fnvPrime
	h = fnvString(h, value)
	return (h ^ 0xfe) * fnvPrime
}

// HashTags returns the series hash of a tag set (sorted by key) and the hash
// of its source (the same set without pid and pattern). The glue hashes a
// metric's tags with the same function, so keys survive the state file.
func HashTags(tags []Tag) (series, source uint64) {
	series, source = fnvOffset, fnvOffset
	for _, t := range tags {
		series = fnvTag(series, t.Key, t.Value)
		if t.Key != tagPID && t.Key != tagPattern {
			source = fnvTag(source, t.Key, t.Value)
		}
	}
	return series, source
}

func sortTags(tags []Tag) {
	slices.SortFunc(tags, func(a, b Tag) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
}
