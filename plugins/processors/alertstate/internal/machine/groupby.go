package machine

import (
	"cmp"
	"math"
	"slices"
	"strings"
)

// Grouping across sources, as Alertmanager's group_by: the sources whose
// GroupBy tags agree share one group window. The first news of a quiet
// group goes out at once; what any of its sources has after that is held
// until the window ends, and then everything the group holds goes out in
// the same decision, merged per kind across sources.

// grouping tells whether sources are grouped by tags rather than alone.
func (m *Machine) grouping() bool { return m.cfg.GroupBy != nil }

// groupOf returns the key and the tags of the group a source with these
// tags (sorted by key) belongs to.
func (m *Machine) groupOf(tags []Tag) (string, []Tag) {
	var key strings.Builder
	var out []Tag
	for _, t := range tags {
		if slices.Contains(m.cfg.GroupBy, t.Key) {
			key.WriteString(t.Key)
			key.WriteByte(0)
			key.WriteString(t.Value)
			key.WriteByte(0)
			out = append(out, t)
		}
	}
	return key.String(), out
}

// joinGroup places a new source in its group: it shares the group's open
// window, so that its first alert waits like the others'.
func (m *Machine) joinGroup(s *source) {
	m.fleet.order = nil
	if !m.grouping() {
		return
	}
	s.fleet.group, _ = m.groupOf(s.tags)
	for _, o := range m.sources {
		if o.fleet.group == s.fleet.group && o.windowEnd > s.windowEnd {
			s.windowEnd = o.windowEnd
		}
	}
}

// leaveGroup drops a forgotten source.
func (m *Machine) leaveGroup(*source) { m.fleet.order = nil }

// shareWindows gives every source of a group the latest end of its
// members' windows: a member that released opened the window for all.
func (m *Machine) shareWindows() {
	if m.fleet.windows == nil {
		m.fleet.windows = make(map[string]int64)
	}
	moved := false
	for _, s := range m.sources {
		if s.windowEnd > m.fleet.windows[s.fleet.group] {
			m.fleet.windows[s.fleet.group] = s.windowEnd
			moved = true
		}
	}
	if !moved {
		return
	}
	for _, s := range m.sources {
		if w := m.fleet.windows[s.fleet.group]; s.windowEnd < w {
			s.windowEnd = w
			m.changed()
		}
	}
}

// grouped merges the job events of one call per group and kind: when a
// group released more than DigestAfter jobs of a kind, across its sources,
// they become one digest naming each job's source. Fewer stay one event per
// job. Other events keep their order.
func (m *Machine) grouped(evs []Event) []Event {
	if !m.grouping() || len(evs) == 0 {
		return evs
	}
	m.shareWindows()
	type bucket struct {
		tags   []Tag
		events []int // indexes in evs
		jobs   int
		multi  bool // jobs of more than one source
	}
	buckets := map[string]*bucket{}
	for i := range evs {
		ev := &evs[i]
		if len(ev.Jobs) == 0 {
			continue
		}
		key, tags := m.groupOf(ev.SourceTags)
		key += "\x01" + string(ev.Kind)
		b := buckets[key]
		if b == nil {
			b = &bucket{tags: tags}
			buckets[key] = b
		}
		if len(b.events) > 0 && evs[b.events[0]].Source != ev.Source {
			b.multi = true
		}
		b.events = append(b.events, i)
		b.jobs += len(ev.Jobs)
	}
	merge := false
	for _, b := range buckets {
		merge = merge || b.multi && b.jobs > m.cfg.DigestAfter
	}
	if !merge {
		return evs
	}
	out := make([]Event, 0, len(evs))
	emitted := map[string]bool{}
	for i := range evs {
		ev := &evs[i]
		if len(ev.Jobs) == 0 {
			out = append(out, *ev)
			continue
		}
		key, _ := m.groupOf(ev.SourceTags)
		key += "\x01" + string(ev.Kind)
		b := buckets[key]
		if !b.multi || b.jobs <= m.cfg.DigestAfter {
			out = append(out, *ev)
			continue
		}
		if emitted[key] {
			continue
		}
		emitted[key] = true
		merged := Event{Kind: ev.Kind, Time: ev.Time, SourceTags: b.tags, Source: SourceID(b.tags, tagKV)}
		for _, k := range b.events {
			merged.Jobs = append(merged.Jobs, evs[k].Jobs...)
		}
		slices.SortStableFunc(merged.Jobs, func(a, b Snapshot) int {
			return cmp.Or(compareTags(a.SourceTags, b.SourceTags), cmp.Compare(a.Head.PID, b.Head.PID))
		})
		out = append(out, merged)
	}
	return out
}

// holdRealert holds the realert of a job of a group, seen at t, and says
// whether it did: when grouping, realerts wait for the group's window like
// new alerts, so that the jobs of a fleet-wide incident, alerted together,
// are realerted together rather than one message per node as each node's
// scan comes due. A job whose cooldown ends by the time an open window
// does joins that window's release; in a quiet group, the first realert
// due goes out at once (release opens the window). Not kept in the state
// file: after a restart the next scan finds the job due again.
func (m *Machine) holdRealert(s *source, j *job, t int64) bool {
	if !m.grouping() || j.alerts == 0 {
		return false
	}
	if j.realertDue {
		return true
	}
	cd := m.cfg.Cooldown.Nanoseconds()
	if t-j.lastAlert < cd && (t >= s.windowEnd || s.windowEnd-j.lastAlert < cd) {
		return true // not due: nothing to hold, nothing to send
	}
	j.realertDue = true
	s.fleet.realerts++
	return true
}

// releaseRealerts sends the realerts a source holds.
func (m *Machine) releaseRealerts(s *source, t int64, b *batch) {
	if s.fleet.realerts == 0 {
		return
	}
	for _, j := range s.jobs {
		if !j.realertDue {
			continue
		}
		j.realertDue = false
		if j.mute.silences(t) {
			continue // acknowledged or snoozed while its realert was held
		}
		j.lastAlert = t
		if j.alerts < math.MaxInt64 {
			j.alerts++
		}
		b.realert = append(b.realert, j.snapshot())
	}
	s.fleet.realerts = 0
	m.changed()
}

// dropRealert forgets the held realert of a job that ends: its recovery
// says more.
func (m *Machine) dropRealert(s *source, j *job) {
	if j.realertDue {
		j.realertDue = false
		s.fleet.realerts--
	}
}
