package machine

import "time"

// now reads the arrival clock; ok is false when silence is off.
func (m *Machine) now() (int64, bool) {
	if m.cfg.SilentAfter <= 0 || m.cfg.Now == nil {
		return 0, false
	}
	return m.cfg.Now(), true
}

// arrived records that a metric of the source arrived now.
func (m *Machine) arrived(s *source) {
	now, ok := m.now()
	if !ok {
		return
	}
	if m.fleet.lastArrival == 0 || now-m.fleet.lastArrival > m.cfg.SilentAfter.Nanoseconds() {
		// The first metric since the start, or since nothing arrived from
		// any source for a while: the alerter was down or cut off, not each
		// node silent. Silence counts from now.
		for _, o := range m.sources {
			if o.fleet.silentSince == 0 {
				o.fleet.arrived = now
			}
		}
	}
	m.fleet.lastArrival = now
	s.fleet.arrived = now
	if s.fleet.silentSince != 0 {
		s.fleet.back = true
	}
}

// silence reports, at metric time t, the sources whose metrics stopped
// arriving for SilentAfter and those heard again. A silent source keeps its
// jobs: silence proves nothing gone, and forget_after still applies.
func (m *Machine) silence(t int64) []Event {
	now, ok := m.now()
	if !ok {
		return nil
	}
	var out []Event
	for _, s := range m.sortedSources() {
		switch {
		case s.fleet.back:
			out = append(out, Event{Kind: KindHeardAgain, Time: t, Source: s.id, SourceTags: s.tags,
				Silent: time.Duration(now - s.fleet.silentSince)})
			s.fleet.back, s.fleet.silentSince = false, 0
			m.changed()
		case s.fleet.silentSince == 0 && s.fleet.arrived != 0 && now-s.fleet.arrived > m.cfg.SilentAfter.Nanoseconds():
			s.fleet.silentSince = s.fleet.arrived
			out = append(out, Event{Kind: KindSilent, Time: t, Source: s.id, SourceTags: s.tags,
				Silent: time.Duration(now - s.fleet.arrived)})
			m.changed()
		}
	}
	return out
}
