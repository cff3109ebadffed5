package machine

import (
	"cmp"
	"slices"
)

// Mute is what someone in the chat decided for a job: acknowledged (no
// more realerts) or snoozed (no realerts until Until). Its recovery comes
// either way.
type Mute struct {
	Acked bool   `json:"acked,omitempty"`
	Until int64  `json:"until,omitempty"` // unix ns a snooze ends
	By    string `json:"by"`              // who, as the chat names them
	At    int64  `json:"at"`              // unix ns of the action
}

// silences tells whether the mute holds back a realert at t.
func (m *Mute) silences(t int64) bool {
	return m != nil && (m.Acked || t < m.Until)
}

// Action is an action on a job taken from the chat.
type Action struct {
	AlertID string
	Mute    Mute
}

// Act applies an action to the job named by its alert_id. It returns the
// job's event source and snapshot, and false when no job has that id (it
// recovered, or was never alerted here). An ack stays; a snooze replaces a
// snooze, and never an ack.
func (m *Machine) Act(a Action) (*Event, bool) {
	for _, s := range m.sortedSources() {
		for _, j := range s.jobs {
			if AlertID(s.id, j.id) != a.AlertID {
				continue
			}
			if j.mute == nil || !j.mute.Acked || a.Mute.Acked {
				mute := a.Mute
				j.mute = &mute
				m.changed()
			}
			return &Event{Time: a.Mute.At, Source: s.id, SourceTags: s.tags, Jobs: []Snapshot{j.snapshot()}}, true
		}
	}
	return nil, false
}

// SourceJobs is one source's jobs for a status.
type SourceJobs struct {
	Source uint64
	Tags   []Tag
	Jobs   []Snapshot // by PID
}

// Status lists the jobs held now (alerted, or whose alert is held), per
// source, in a stable order.
func (m *Machine) Status() []SourceJobs {
	var out []SourceJobs
	for _, s := range m.sortedSources() {
		if len(s.jobs) == 0 {
			continue
		}
		sj := SourceJobs{Source: s.id, Tags: s.tags}
		for _, j := range s.jobs {
			sj.Jobs = append(sj.Jobs, j.snapshot())
		}
		sortSnapshots(sj.Jobs)
		out = append(out, sj)
	}
	return out
}

func sortSnapshots(snaps []Snapshot) {
	slices.SortFunc(snaps, func(a, b Snapshot) int {
		return cmp.Or(cmp.Compare(a.Head.PID, b.Head.PID), cmp.Compare(a.Job.PID, b.Job.PID), cmp.Compare(a.Job.CreatedAt, b.Job.CreatedAt))
	})
}
