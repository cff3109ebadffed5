package alertstate

import (
	"fmt"
	"slices"
	"time"

	"github.com/procblocking/procblocking/plugins/processors/alertstate/internal/machine"
)

// groupBySource, alone in group_by, groups by every tag of a source: each
// source is a group of its own, as Alertmanager's "...".
const groupBySource = "..."

// defaultSilentAfter is four intervals of the fleet's node.conf (30 s), and
// twelve of Telegraf's default one: a node late by a scan or two is not
// news.
const defaultSilentAfter = 2 * time.Minute

func (a *AlertState) validateFleet() error {
	for _, k := range a.GroupBy {
		switch {
		case k == groupBySource && len(a.GroupBy) > 1:
			return fmt.Errorf("invalid 'group_by' %q: %q groups by every tag and stands alone", a.GroupBy, groupBySource)
		case k == "":
			return fmt.Errorf("invalid 'group_by' %q: a tag name must not be empty", a.GroupBy)
		case machine.ProcessTag(k):
			return fmt.Errorf("invalid 'group_by' %q: %q tells processes apart, not sources", a.GroupBy, k)
		}
	}
	if a.SilentAfter < 0 {
		return fmt.Errorf("invalid 'silent_after' %q: must not be negative (0s turns it off)", time.Duration(a.SilentAfter))
	}
	return nil
}

func (a *AlertState) fleetConfig() machine.Fleet {
	f := machine.Fleet{SilentAfter: time.Duration(a.SilentAfter)}
	if !slices.Equal(a.GroupBy, []string{groupBySource}) {
		// Empty (every source one group) stays distinct from nil.
		f.GroupBy = append([]string{}, a.GroupBy...)
	}
	now := a.now
	if now == nil {
		now = time.Now
	}
	f.Now = func() int64 { return now().UnixNano() }
	return f
}

// jobSource is the source of one of an event's jobs: its own when the
// machine says (an event of a fleet's group carries jobs of several).
func jobSource(ev *machine.Event, j *machine.Snapshot) uint64 {
	if j.SourceTags != nil || j.Source != 0 {
		return j.Source
	}
	return ev.Source
}

// jobHost is the host tag of a job's source.
func jobHost(ev *machine.Event, j *machine.Snapshot) string {
	tags := ev.SourceTags
	if j.SourceTags != nil {
		tags = j.SourceTags
	}
	for _, t := range tags {
		if t.Key == "host" {
			return t.Value
		}
	}
	return ""
}

// hostsOf lists the hosts of jobs in order, each once.
func hostsOf(jobs []jobView) []string {
	var out []string
	for i := range jobs {
		if h := jobs[i].Host; h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// plural picks the form of a noun for n as Russian does: one for 1, 21,
// 31...; few for 2-4, 22-24...; many for the rest (5-20, 25-30, 11-14...).
// English templates pass the same word twice.
func plural(n int, one, few, many string) string {
	switch n10, n100 := n%10, n%100; {
	case n10 == 1 && n100 != 11:
		return one
	case n10 >= 2 && n10 <= 4 && (n100 < 12 || n100 > 14):
		return few
	}
	return many
}
