package machine

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// batch collects the job events of one decision, by kind.
type batch struct {
	alert, realert, recovery []Snapshot
}

// decide takes the decisions on the pending observations of a source, seen
// at t: jobs crossing the threshold get their alert held (release sends
// it), alerted jobs due for a realert get one now, and jobs back under the
// threshold recover.
func (m *Machine) decide(s *source, t int64, b *batch) {
	m.decisions++
	m.decided(s, t)
	for i := range s.pending {
		o := &s.pending[i]
		j := s.jobs[o.Job]
		if j == nil {
			if !(o.JobAge > m.threshold) {
				continue
			}
			j = &job{id: o.Job, fresh: true}
			s.jobs[o.Job] = j
		}
		if j.lastDecision != m.decisions {
			// The first observation of the job in this decision.
			j.lastDecision = m.decisions
			clear(j.others)
			j.others = j.others[:0]
			j.head, j.headTop, j.jobAge = o.Proc, o.Top, o.JobAge
			m.touched = append(m.touched, j)
			continue
		}
		j.place(o)
	}
	clear(s.pending)
	n := len(s.pending)
	s.pending = s.pending[:0]
	if cap(s.pending) > 1024 && cap(s.pending) > 4*n {
		s.pending = nil // do not keep a huge buffer after a storm
	}

	future := int64(0)
	for _, j := range m.touched {
		future = max(future, j.clampToNow(t))
		m.decideJob(s, j, t, b)
	}
	clear(m.touched)
	m.touched = m.touched[:0]
	if w := s.windowEnd - (t + m.cfg.GroupInterval.Nanoseconds()); w > 0 {
		future = max(future, w)
		s.windowEnd = t + m.cfg.GroupInterval.Nanoseconds()
	}
	m.clockEpisode(s, future)
}

// decideJob decides on one job seen at t.
func (m *Machine) decideJob(s *source, j *job, t int64, b *batch) {
	j.lastSeen = t
	j.seenGen = s.gen
	if j.fresh {
		j.fresh = false
		s.held++
		m.changed()
		return
	}
	if j.jobAge > m.threshold {
		if j.mute.silences(t) {
			return
		}
		if m.holdRealert(s, j, t) {
			return
		}
		if j.alerts > 0 && t-j.lastAlert >= m.cfg.Cooldown.Nanoseconds() {
			j.lastAlert = t
			if j.alerts < math.MaxInt64 {
				j.alerts++
			}
			m.changed()
			b.realert = append(b.realert, j.snapshot())
		}
		return
	}
	// Back under the threshold: only a clock or a threshold that changed
	// does this to a process that still runs.
	m.finish(s, j, false)
}

// vanish finishes the jobs of the source that the scan now closing did not
// see.
func (m *Machine) vanish(s *source) {
	for _, j := range s.jobs {
		if j.seenGen != s.gen {
			m.finish(s, j, true)
		}
	}
}

// finish drops a job and holds its recovery (and its alert, if that was
// still held) for release.
func (m *Machine) finish(s *source, j *job, vanished bool) {
	m.dropRealert(s, j)
	delete(s.jobs, j.id)
	m.changed()
	if j.alerts == 0 {
		s.held--
	} else if !m.cfg.SendRecovery {
		return
	}
	snap := j.snapshot()
	snap.Vanished = vanished
	s.recovered = append(s.recovered, snap)
}

// holds tells whether the source holds alerts or recoveries.
func (s *source) holds() bool { return s.held > 0 || len(s.recovered) > 0 || s.fleet.realerts > 0 }

// releaseDue sends what the source holds when its group window has passed
// (or was never open: the first alert of a quiet source goes out at once).
func (m *Machine) releaseDue(s *source, t int64, b *batch) {
	if s.holds() && t >= s.windowEnd {
		m.release(s, t, b)
	}
}

// release sends what the source holds and opens its next group window.
func (m *Machine) release(s *source, t int64, b *batch) {
	m.releaseRealerts(s, t, b)
	if s.held > 0 {
		for _, j := range s.jobs {
			if j.alerts == 0 {
				j.alerts, j.firstAlert, j.lastAlert = 1, t, t
				b.alert = append(b.alert, j.snapshot())
			}
		}
		s.held = 0
	}
	for _, snap := range s.recovered {
		if snap.AlertsSent == 0 {
			snap.AlertsSent, snap.FirstAlertAt = 1, t
			b.alert = append(b.alert, snap)
			if !m.cfg.SendRecovery {
				continue
			}
		}
		b.recovery = append(b.recovery, snap)
	}
	clear(s.recovered)
	s.recovered = s.recovered[:0]
	s.windowEnd = t + m.cfg.GroupInterval.Nanoseconds()
	m.changed()
}

// assemble orders the events of one source's decision: per kind, one event
// per job, or one digest when there are more than DigestAfter.
func (m *Machine) assemble(b *batch, scanEvents []Event, t int64, s *source) []Event {
	if len(b.alert)+len(b.realert)+len(b.recovery)+len(scanEvents) == 0 {
		return nil
	}
	var out []Event
	for _, k := range Kinds {
		var snaps []Snapshot
		switch k {
		case KindAlert:
			snaps = b.alert
		case KindRealert:
			snaps = b.realert
		case KindRecovery:
			snaps = b.recovery
		default:
			for _, e := range scanEvents {
				if e.Kind == k {
					e.Time, e.Source, e.SourceTags = t, s.id, s.tags
					out = append(out, e)
				}
			}
			continue
		}
		if len(snaps) == 0 {
			continue
		}
		slices.SortFunc(snaps, func(a, b Snapshot) int {
			return cmp.Or(cmp.Compare(a.Head.PID, b.Head.PID), cmp.Compare(a.Job.PID, b.Job.PID), cmp.Compare(a.Job.CreatedAt, b.Job.CreatedAt))
		})
		for i := range snaps {
			snaps[i].Source, snaps[i].SourceTags = s.id, s.tags
		}
		if len(snaps) > m.cfg.DigestAfter {
			out = append(out, Event{Kind: k, Time: t, Source: s.id, SourceTags: s.tags, Jobs: snaps})
			continue
		}
		for i := range snaps {
			out = append(out, Event{Kind: k, Time: t, Source: s.id, SourceTags: s.tags, Jobs: snaps[i : i+1 : i+1]})
		}
	}
	return out
}

// forget drops the sources not heard from for ForgetAfter, with what they
// held: nothing is known of their processes any more. Anything still held
// is sent first, so that nothing decided is lost.
func (m *Machine) forget(t int64, current *source) []Event {
	var out []Event
	for _, s := range m.sortedSources() {
		if s == current || t-s.lastHeard <= m.cfg.ForgetAfter.Nanoseconds() {
			continue
		}
		if s.holds() {
			var b batch
			m.release(s, t, &b)
			out = append(out, m.assemble(&b, nil, t, s)...)
		}
		delete(m.sources, s.id)
		m.leaveGroup(s)
		m.changed()
		m.notify(Notice{Kind: NoticeForgotten, SourceTags: s.tags, Jobs: len(s.jobs), By: time.Duration(t - s.lastHeard)})
	}
	return out
}

// clockEpisode reports, once per episode, that stored times of the source
// lay up to future ns ahead of its metrics.
func (m *Machine) clockEpisode(s *source, future int64) {
	if future <= 0 {
		s.clockBack = false
		return
	}
	m.changed()
	if !s.clockBack {
		s.clockBack = true
		m.notify(Notice{Kind: NoticeClockBack, SourceTags: s.tags, By: time.Duration(future)})
	}
}

func (m *Machine) notify(n Notice) {
	if m.cfg.Notify != nil {
		m.cfg.Notify(n)
	}
}

// sortedSources returns the sources in a stable order, so that the events
// of several sources come out the same way every time.
func (m *Machine) sortedSources() []*source {
	if m.fleet.order != nil {
		// Kept between calls: sorting every source at every scan made a
		// fleet's alerter quadratic in its nodes.
		return m.fleet.order
	}
	out := make([]*source, 0, len(m.sources))
	for _, s := range m.sources {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *source) int { return compareTags(a.tags, b.tags) })
	m.fleet.order = out
	return out
}

func compareTags(a, b []Tag) int {
	return slices.CompareFunc(a, b, func(x, y Tag) int {
		return cmp.Or(cmp.Compare(x.Key, y.Key), cmp.Compare(x.Value, y.Value))
	})
}
