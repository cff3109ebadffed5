package alertstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// stateVersion is the version of the state format this code reads and writes.
const stateVersion = 1

// State is the persisted alert state: the file's content and also what
// GetState/SetState hand to Telegraf's statefile.
type State struct {
	Version int `json:"version"`
	// Generation counts committed changes; of two states, the higher wins.
	Generation uint64        `json:"generation"`
	Processes  []ProcState   `json:"processes"`
	Sources    []SourceState `json:"sources,omitempty"`
}

// ProcState is one alerted process.
type ProcState struct {
	Tags         map[string]string `json:"tags"`
	CreatedAt    int64             `json:"created_at"`
	FirstAlertAt int64             `json:"first_alert_at"`
	LastAlertAt  int64             `json:"last_alert_at"`
	LastSeenAt   int64             `json:"last_seen_at"`
	AlertsSent   int               `json:"alerts_sent"`
	AgeSeconds   float64           `json:"age_seconds"`
	PID          int64             `json:"pid"`
	PPID         int64             `json:"ppid"`
	CPUSeconds   float64           `json:"cpu_seconds"`
	CPUUsage     *float64          `json:"cpu_usage,omitempty"`
	Orphan       bool              `json:"orphan"`
	Cmdline      string            `json:"cmdline,omitempty"`
	ContainerID  string            `json:"container_id,omitempty"`
	Comm         string            `json:"comm,omitempty"`
}

// SourceState is the scan-failure streak of one source.
type SourceState struct {
	Tags        map[string]string `json:"tags"`
	FailedScans int               `json:"failed_scans"`
	Blind       bool              `json:"blind"`
}

func tagsToMap(tags []Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

func mapToTags(m map[string]string) []Tag {
	tags := make([]Tag, 0, len(m))
	for k, v := range m {
		tags = append(tags, Tag{Key: k, Value: v})
	}
	sortTags(tags)
	return tags
}

// Snapshot returns the state to persist, in a stable order.
func (m *Machine) Snapshot() State {
	st := State{Version: stateVersion, Generation: m.generation, Processes: make([]ProcState, 0, len(m.procs))}
	ps := make([]*proc, 0, len(m.procs))
	for _, p := range m.procs {
		ps = append(ps, p)
	}
	sortProcs(ps)
	for _, p := range ps {
		ps := ProcState{
			Tags:         tagsToMap(p.tags),
			CreatedAt:    p.createdAt,
			FirstAlertAt: p.firstAlert,
			LastAlertAt:  p.lastAlert,
			LastSeenAt:   p.lastSeen,
			AlertsSent:   p.alerts,
			AgeSeconds:   p.age,
			PID:          p.info.PID,
			PPID:         p.info.PPID,
			CPUSeconds:   p.info.CPUSeconds,
			Orphan:       p.info.Orphan,
			Cmdline:      p.info.Cmdline,
			ContainerID:  p.info.ContainerID,
			Comm:         p.info.Comm,
		}
		if p.info.HasCPUUsage {
			u := p.info.CPUUsage
			ps.CPUUsage = &u
		}
		st.Processes = append(st.Processes, ps)
	}
	for _, s := range m.sources {
		if s.failures == 0 && !s.blind || s.tags == nil {
			continue
		}
		st.Sources = append(st.Sources, SourceState{Tags: tagsToMap(s.tags), FailedScans: s.failures, Blind: s.blind})
	}
	if len(st.Sources) > 1 {
		sortSources(st.Sources)
	}
	return st
}

// Restore replaces the machine's state by a validated one. Restored
// processes count as not seen yet: the first good scan of their source
// reports those that are gone.
func (m *Machine) Restore(st State) error {
	if err := st.Validate(); err != nil {
		return err
	}
	m.procs = make(map[ProcKey]*proc, len(st.Processes))
	m.sources = make(map[uint64]*source)
	for _, ps := range st.Processes {
		tags := mapToTags(ps.Tags)
		series, src := HashTags(tags)
		info := ProcInfo{
			PID:         ps.PID,
			PPID:        ps.PPID,
			CPUSeconds:  ps.CPUSeconds,
			Orphan:      ps.Orphan,
			Cmdline:     ps.Cmdline,
			ContainerID: ps.ContainerID,
			Comm:        ps.Comm,
		}
		if ps.CPUUsage != nil {
			info.CPUUsage, info.HasCPUUsage = *ps.CPUUsage, true
		}
		m.procs[ProcKey{Series: series, CreatedAt: ps.CreatedAt}] = &proc{
			source:     src,
			tags:       tags,
			createdAt:  ps.CreatedAt,
			age:        ps.AgeSeconds,
			info:       sanitizeInfo(info),
			firstAlert: ps.FirstAlertAt,
			lastAlert:  ps.LastAlertAt,
			lastSeen:   ps.LastSeenAt,
			alerts:     ps.AlertsSent,
		}
	}
	for _, ss := range st.Sources {
		tags := mapToTags(ss.Tags)
		_, id := HashTags(tags)
		s := m.source(id)
		s.tags, s.failures, s.blind = tags, ss.FailedScans, ss.Blind
	}
	m.generation = st.Generation
	m.dirty = false
	return nil
}

// Validate checks a decoded state, so that any bytes give an error or a
// usable state.
func (st *State) Validate() error {
	if st.Version != stateVersion {
		return fmt.Errorf("unsupported state version %d (want %d)", st.Version, stateVersion)
	}
	for i, p := range st.Processes {
		if len(p.Tags) == 0 {
			return fmt.Errorf("process %d has no tags", i)
		}
		if p.AlertsSent < 1 {
			return fmt.Errorf("process %d has alerts_sent %d", i, p.AlertsSent)
		}
		if math.IsNaN(p.AgeSeconds) || math.IsInf(p.AgeSeconds, 0) {
			return fmt.Errorf("process %d has a non-finite age", i)
		}
	}
	for i, s := range st.Sources {
		if s.FailedScans < 0 {
			return fmt.Errorf("source %d has failed_scans %d", i, s.FailedScans)
		}
	}
	return nil
}

// decodeState parses and validates the content of a state file.
func decodeState(data []byte) (State, error) {
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

func encodeState(st State) ([]byte, error) {
	data, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encoding state: %w", err)
	}
	return append(data, '\n'), nil
}

// stateFile writes the state so that a crash at any instant leaves either
// the old complete file or the new complete one: temp file in the same
// directory, write, fsync, rename, fsync of the directory.
type stateFile struct {
	path string
	// Test hooks run between the steps of a write.
	afterTempWrite func()
	afterRename    func()
}

func (f *stateFile) tempPattern() string { return filepath.Base(f.path) + ".tmp-*" }

// write stores the state atomically.
func (f *stateFile) write(st State) error {
	data, err := encodeState(st)
	if err != nil {
		return err
	}
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, f.tempPattern())
	if err != nil {
		return fmt.Errorf("creating temporary state file: %w", err)
	}
	tmpName := tmp.Name()
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("writing %q: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %q: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing %q: %w", tmpName, err)
	}
	if f.afterTempWrite != nil {
		f.afterTempWrite()
	}
	if err := os.Rename(tmpName, f.path); err != nil {
		return fmt.Errorf("renaming state file: %w", err)
	}
	committed = true
	if f.afterRename != nil {
		f.afterRename()
	}
	// Without the directory's fsync the rename itself may not survive a
	// power loss; a failure here is not worth failing the write for.
	if d, err := os.Open(dir); err == nil {
		d.Sync() //nolint:errcheck // best effort, see above
		d.Close()
	}
	return nil
}

// loadResult says what load found, for the caller to log.
type loadResult struct {
	state      State
	found      bool   // a valid state was loaded
	corruptErr error  // the file was unusable
	movedTo    string // where the unusable file was moved, if it was
	staleTemps int    // temp files of interrupted writes removed
}

// load reads the state file. A missing file is an empty state; an unusable
// one is moved aside to <file>.corrupt so that the processor starts empty and
// the evidence is kept. Temp files of interrupted writes are removed.
func (f *stateFile) load() loadResult {
	var res loadResult
	// Not filepath.Glob: the file's own name may contain glob characters.
	dir, prefix := filepath.Dir(f.path), filepath.Base(f.path)+".tmp-"
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if e.Type().IsRegular() && strings.HasPrefix(e.Name(), prefix) && os.Remove(filepath.Join(dir, e.Name())) == nil {
				res.staleTemps++
			}
		}
	}
	data, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return res
	}
	if err == nil {
		res.state, err = decodeState(data)
		if err == nil {
			res.found = true
			return res
		}
	}
	res.corruptErr = err
	aside := f.path + ".corrupt"
	if rerr := os.Rename(f.path, aside); rerr == nil {
		res.movedTo = aside
	}
	return res
}

func sortSources(ss []SourceState) {
	key := func(s SourceState) string {
		b, _ := json.Marshal(s.Tags) // maps marshal with sorted keys
		return string(b)
	}
	for i := 1; i < len(ss); i++ {
		for j := i; j > 0 && key(ss[j]) < key(ss[j-1]); j-- {
			ss[j], ss[j-1] = ss[j-1], ss[j]
		}
	}
}
