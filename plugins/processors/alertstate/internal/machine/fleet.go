package machine

import "time"

// Fleet holds the options that matter when one machine decides for many
// sources (a fleet's alerter); their zero values keep a source on its own.
type Fleet struct {
	// GroupBy names the tags whose values make a group: the sources of one
	// group share one group window, and what they release together goes
	// out together (one digest when more than DigestAfter). Nil groups by
	// source (every tag); empty puts every source in one group.
	GroupBy []string
	// SilentAfter: a source whose metrics stopped arriving for this long
	// gives one source_silent event, and one source_back event when they
	// arrive again. Zero turns it off.
	SilentAfter time.Duration
	// Now is the clock silence is measured by (unix ns): when metrics
	// arrive, not their timestamps, which a node's clock or a backlog
	// replayed after an outage would skew. Nil turns silence off.
	Now func() int64
}

// sourceFleet is what the machine keeps of a source for a fleet.
type sourceFleet struct {
	group string // the key of its group; "" when grouping by source
	// decidedAt is the time of the source's last decision: a metric not
	// newer is a replay or late, and changes nothing.
	decidedAt int64
	arrived   int64 // Now when its last metric arrived
	// silentSince is the arrival before a silence, while the source is
	// silent; 0 while it is heard.
	silentSince int64
	back        bool // heard again after a silence: source_back is due
	realerts    int  // jobs whose realert is held by the group window
}

// machineFleet is what the machine keeps for a fleet.
type machineFleet struct {
	// order caches sortedSources until a source comes or goes.
	order []*source
	// windows holds the end of each group's window.
	windows     map[string]int64
	lastArrival int64 // Now when the last metric of any source arrived
}
