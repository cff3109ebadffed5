package machine

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/procblocking/procblocking/internal/textutil"
)

// Version is the version of the state format: a file of another version is
// refused rather than misread.
const Version = 2

// State is the persisted alert state, the content of the state file.
type State struct {
	Version int           `json:"version"`
	Sources []SourceState `json:"sources,omitempty"`
}

// SourceState is what is kept of one source.
type SourceState struct {
	Tags        map[string]string `json:"tags"`
	LastHeardAt int64             `json:"last_heard_at,omitempty"`
	FailedScans int               `json:"failed_scans,omitempty"`
	Blind       bool              `json:"blind,omitempty"`
	// WindowEnd ends the group window (unix ns); while it is open new
	// alerts and recoveries are held.
	WindowEnd int64      `json:"window_end,omitempty"`
	Jobs      []JobState `json:"jobs,omitempty"`
	// Recovered are recoveries held until the window ends.
	Recovered []JobState `json:"recovered,omitempty"`
	// DecidedAt is the time of the source's last decision (unix ns): a
	// metric not newer, replayed after a restart, changes nothing.
	DecidedAt int64 `json:"decided_at,omitempty"`
	// SilentSince is set while the source is silent: when its last metric
	// arrived, by the alerter's clock (unix ns).
	SilentSince int64 `json:"silent_since,omitempty"`
}

// JobState is one job.
type JobState struct {
	PID       int64       `json:"pid"`
	CreatedAt int64       `json:"created_at"`
	Head      ProcState   `json:"head"`
	Others    []ProcState `json:"others,omitempty"`
	// AlertsSent is 0 while the job's first alert is held.
	AlertsSent   int64 `json:"alerts_sent"`
	FirstAlertAt int64 `json:"first_alert_at,omitempty"`
	LastAlertAt  int64 `json:"last_alert_at,omitempty"`
	LastSeenAt   int64 `json:"last_seen_at"`
	Vanished     bool  `json:"vanished,omitempty"`
	Mute         *Mute `json:"mute,omitempty"`
}

// ProcState is one process of a job.
type ProcState struct {
	PID         int64    `json:"pid"`
	PPID        int64    `json:"ppid,omitempty"`
	CreatedAt   int64    `json:"created_at"`
	AgeSeconds  float64  `json:"age_seconds"`
	CPUSeconds  float64  `json:"cpu_seconds,omitempty"`
	CPUUsage    *float64 `json:"cpu_usage,omitempty"`
	Orphan      *bool    `json:"orphan,omitempty"`
	Pattern     string   `json:"pattern,omitempty"`
	Cmdline     string   `json:"cmdline,omitempty"`
	ContainerID string   `json:"container_id,omitempty"`
	Comm        string   `json:"comm,omitempty"`
}

// Decode parses and validates the content of a state file, so that any
// bytes give an error or a usable state.
func Decode(data []byte) (State, error) {
	var st State
	if len(bytes.TrimSpace(data)) == 0 {
		return st, errors.New("empty state file")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return State{}, fmt.Errorf("decoding state: %w", err)
	}
	if dec.More() {
		return State{}, errors.New("decoding state: trailing data")
	}
	if err := st.Validate(); err != nil {
		return State{}, err
	}
	return st, nil
}

// Encode returns the content of a state file.
func Encode(st State) ([]byte, error) {
	data, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encoding state: %w", err)
	}
	return append(data, '\n'), nil
}

// Validate checks the values of a decoded state against what the machine
// can hold: counters not negative, numbers finite, no entry twice.
func (st *State) Validate() error {
	if st.Version != Version {
		return fmt.Errorf("unsupported state version %d (want %d)", st.Version, Version)
	}
	seen := make(map[uint64]bool, len(st.Sources))
	for i := range st.Sources {
		s := &st.Sources[i]
		tags := tagsFromMap(s.Tags)
		id := SourceID(tags, tagKV)
		if seen[id] {
			return fmt.Errorf("source %d (%v) appears twice", i, s.Tags)
		}
		seen[id] = true
		for _, t := range tags {
			if ProcessTag(t.Key) {
				return fmt.Errorf("source %d has a %q tag", i, t.Key)
			}
		}
		if s.SilentSince < 0 {
			return fmt.Errorf("source %d has silent_since %d", i, s.SilentSince)
		}
		if s.FailedScans < 0 {
			return fmt.Errorf("source %d has failed_scans %d", i, s.FailedScans)
		}
		jobs := make(map[JobID]bool, len(s.Jobs))
		for k, j := range s.Jobs {
			if err := j.validate(); err != nil {
				return fmt.Errorf("source %d job %d: %w", i, k, err)
			}
			id := JobID{PID: j.PID, CreatedAt: j.CreatedAt}
			if jobs[id] {
				return fmt.Errorf("source %d job %d (PID %d) appears twice", i, k, j.PID)
			}
			jobs[id] = true
		}
		for k, j := range s.Recovered {
			if err := j.validate(); err != nil {
				return fmt.Errorf("source %d recovered job %d: %w", i, k, err)
			}
		}
	}
	return nil
}

func (j *JobState) validate() error {
	if j.PID < 0 {
		return fmt.Errorf("pid %d", j.PID)
	}
	if j.AlertsSent < 0 {
		return fmt.Errorf("alerts_sent %d", j.AlertsSent)
	}
	if err := j.Head.validate(); err != nil {
		return fmt.Errorf("head: %w", err)
	}
	for i := range j.Others {
		if err := j.Others[i].validate(); err != nil {
			return fmt.Errorf("process %d: %w", i, err)
		}
	}
	return nil
}

func (p *ProcState) validate() error {
	if p.PID < 0 || p.PPID < 0 {
		return fmt.Errorf("pid %d, ppid %d", p.PID, p.PPID)
	}
	if !finite(p.AgeSeconds) || !finite(p.CPUSeconds) || p.CPUUsage != nil && !finite(*p.CPUUsage) {
		return errors.New("a number is not finite")
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Snapshot returns the state to persist, in a stable order.
func (m *Machine) Snapshot() State {
	st := State{Version: Version}
	for _, s := range m.sortedSources() {
		if len(s.jobs) == 0 && !s.holds() && s.failures == 0 && !s.blind && s.fleet.decidedAt == 0 && s.fleet.silentSince == 0 {
			continue
		}
		ss := SourceState{
			Tags:        tagsToMap(s.tags),
			LastHeardAt: s.lastHeard,
			FailedScans: s.failures,
			Blind:       s.blind,
			WindowEnd:   s.windowEnd,
			DecidedAt:   s.fleet.decidedAt,
			SilentSince: s.fleet.silentSince,
		}
		ids := slices.SortedFunc(maps.Keys(s.jobs), func(a, b JobID) int {
			return cmp.Or(cmp.Compare(a.PID, b.PID), cmp.Compare(a.CreatedAt, b.CreatedAt))
		})
		for _, id := range ids {
			ss.Jobs = append(ss.Jobs, jobState(s.jobs[id].snapshot(), s.jobs[id].lastAlert))
		}
		for _, r := range s.recovered {
			ss.Recovered = append(ss.Recovered, jobState(r, 0))
		}
		st.Sources = append(st.Sources, ss)
	}
	return st
}

// Restore replaces the machine's state by a validated one. Restored jobs
// count as not seen yet: the first good scan of their source reports those
// that are gone.
func (m *Machine) Restore(st State) error {
	if err := st.Validate(); err != nil {
		return err
	}
	m.sources = make(map[uint64]*source, len(st.Sources))
	m.fleet = machineFleet{}
	for _, ss := range st.Sources {
		tags := tagsFromMap(ss.Tags)
		s := m.newSource(SourceID(tags, tagKV), tags)
		s.lastHeard, s.failures, s.blind, s.windowEnd = ss.LastHeardAt, ss.FailedScans, ss.Blind, ss.WindowEnd
		s.fleet.decidedAt, s.fleet.silentSince = ss.DecidedAt, ss.SilentSince
		for _, js := range ss.Jobs {
			j := jobFrom(js.snapshot(), js.LastAlertAt)
			if j.alerts == 0 {
				s.held++
			}
			s.jobs[j.id] = j
		}
		for _, js := range ss.Recovered {
			s.recovered = append(s.recovered, js.snapshot())
		}
	}
	m.dirty = false
	m.restored = true
	return nil
}

func jobState(s Snapshot, lastAlert int64) JobState {
	js := JobState{
		PID:          s.Job.PID,
		CreatedAt:    s.Job.CreatedAt,
		Head:         procState(s.Head),
		AlertsSent:   s.AlertsSent,
		FirstAlertAt: s.FirstAlertAt,
		LastAlertAt:  lastAlert,
		LastSeenAt:   s.LastSeenAt,
		Vanished:     s.Vanished,
		Mute:         s.Mute,
	}
	for _, o := range s.Others {
		ps := procState(o)
		ps.Cmdline = textutil.Truncate(ps.Cmdline, othersCmdlineRunes)
		js.Others = append(js.Others, ps)
	}
	return js
}

func (j *JobState) snapshot() Snapshot {
	s := Snapshot{
		Job:          JobID{PID: j.PID, CreatedAt: j.CreatedAt},
		Head:         j.Head.proc(),
		AlertsSent:   j.AlertsSent,
		FirstAlertAt: j.FirstAlertAt,
		LastSeenAt:   j.LastSeenAt,
		Vanished:     j.Vanished,
		Mute:         j.Mute,
	}
	for _, o := range j.Others {
		s.Others = append(s.Others, o.proc())
	}
	return s
}

// othersCmdlineRunes bounds the command lines kept of a job's other
// processes: messages show less, and the state file stays small.
const othersCmdlineRunes = 200

func procState(p Proc) ProcState {
	ps := ProcState{
		PID:         p.PID,
		PPID:        p.PPID,
		CreatedAt:   p.CreatedAt,
		AgeSeconds:  p.Age,
		CPUSeconds:  p.CPUSeconds,
		Pattern:     p.Pattern,
		Cmdline:     p.Cmdline,
		ContainerID: p.ContainerID,
		Comm:        p.Comm,
	}
	if p.HasCPUUsage {
		ps.CPUUsage = &p.CPUUsage
	}
	if p.OrphanKnown {
		ps.Orphan = &p.Orphan
	}
	return ps
}

func (p *ProcState) proc() Proc {
	out := Proc{
		PID:         p.PID,
		PPID:        p.PPID,
		CreatedAt:   p.CreatedAt,
		Age:         p.AgeSeconds,
		CPUSeconds:  p.CPUSeconds,
		Pattern:     p.Pattern,
		Cmdline:     p.Cmdline,
		ContainerID: p.ContainerID,
		Comm:        p.Comm,
	}
	if p.CPUUsage != nil {
		out.CPUUsage, out.HasCPUUsage = *p.CPUUsage, true
	}
	if p.Orphan != nil {
		out.Orphan, out.OrphanKnown = *p.Orphan, true
	}
	return out
}

func tagsToMap(tags []Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

func tagsFromMap(m map[string]string) []Tag {
	tags := make([]Tag, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		tags = append(tags, Tag{Key: k, Value: m[k]})
	}
	return tags
}
