package machine

import "time"

// replayHorizon is how far behind a source's last decision a metric counts
// as a replay (JetStream delivering again what the alerter had not
// acknowledged when it died) or as late. Further behind, the source's clock
// stepped back: its metrics are decided on as the Clocks rules say, rather
// than ignored until the clock catches up.
const replayHorizon = 10 * time.Minute

// late tells whether a metric of the source at t comes after a decision on
// a time not older: deciding on it again could alert a recovered job again
// or recover one twice, so it changes nothing. It is no sign of life
// either: a replayed message says nothing of the node now.
func (*Machine) late(s *source, t int64) bool {
	d := s.fleet.decidedAt
	return d != 0 && t <= d && d-t <= replayHorizon.Nanoseconds()
}

// decided records a decision on the source's metrics at t. An older t (only
// a clock stepped back beyond replayHorizon gets here) becomes the new
// mark, so that the source's later metrics are not taken as late.
func (*Machine) decided(s *source, t int64) {
	s.fleet.decidedAt = t
}
