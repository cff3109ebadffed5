package machine

import (
	"cmp"
	"slices"
)

// place adds a further observation of the same job to the decision: the
// head is the job's top process, or without it the oldest process seen.
func (j *job) place(o *Observation) {
	switch {
	case o.Top && !j.headTop, !o.Top && !j.headTop && o.Proc.CreatedAt < j.head.CreatedAt:
		j.others = append(j.others, j.head)
		j.head, j.headTop, j.jobAge = o.Proc, o.Top, o.JobAge
	default:
		j.others = append(j.others, o.Proc)
	}
}

// clampToNow takes stored times that lie in the future of t (the clock
// stepped back) as t, and returns how far ahead the furthest one was.
func (j *job) clampToNow(t int64) int64 {
	future := max(j.lastSeen, j.lastAlert, j.firstAlert) - t
	if future <= 0 {
		return 0
	}
	j.lastSeen, j.lastAlert, j.firstAlert = min(j.lastSeen, t), min(j.lastAlert, t), min(j.firstAlert, t)
	return future
}

// snapshot copies the job's state for an event; the copy does not share
// memory the job reuses.
func (j *job) snapshot() Snapshot {
	s := Snapshot{
		Job:          j.id,
		Head:         j.head,
		AlertsSent:   j.alerts,
		FirstAlertAt: j.firstAlert,
		LastSeenAt:   j.lastSeen,
		Mute:         j.mute,
	}
	if len(j.others) > 0 {
		s.Others = slices.Clone(j.others)
		slices.SortFunc(s.Others, func(a, b Proc) int {
			return cmp.Or(cmp.Compare(a.PID, b.PID), cmp.Compare(a.CreatedAt, b.CreatedAt))
		})
	}
	return s
}

// jobFrom is the job a stored snapshot describes, last alerted at
// lastAlert.
func jobFrom(s Snapshot, lastAlert int64) *job {
	return &job{
		id:         s.Job,
		head:       s.Head,
		others:     s.Others,
		alerts:     s.AlertsSent,
		firstAlert: s.FirstAlertAt,
		lastAlert:  lastAlert,
		lastSeen:   s.LastSeenAt,
		mute:       s.Mute,
	}
}

// sourceTags copies a source's tag set, sorted by key, without pid and
// pattern (which tell processes of one source apart).
func sourceTags(tags []Tag) []Tag {
	out := make([]Tag, 0, len(tags))
	for _, t := range tags {
		if !ProcessTag(t.Key) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b Tag) int { return cmp.Compare(a.Key, b.Key) })
	return out
}
