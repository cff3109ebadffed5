package machine

// shortScansTrusted is how many scans in a row may come with fewer process
// metrics than they report before the shortfall is taken as the
// configuration's (metrics of the input filtered out before the processor)
// rather than the transport's: from then on such scans prove jobs gone
// again, and the owner is told once.
const shortScansTrusted = 3

// scanCount counts the process metrics of one scan of a source that reached
// the machine.
type scanCount struct {
	at int64 // the scan's time
	n  int64
}

// counted records a process metric of the source at t.
func (c *scanCount) counted(t int64) {
	switch {
	case t == c.at:
		c.n++
	case t > c.at:
		c.at, c.n = t, 1
	}
}

// complete tells whether every process metric the scan at t reports
// (processes; negative: not reported) reached the machine. A scan split
// over several messages of a transport (a node's outputs.nats batches)
// can arrive in part: after an alerter's restart JetStream delivers again
// the messages it had not acknowledged, which may be only the last part of
// a scan. Closing such a scan would recover the jobs of the parts that did
// not come again, and alert them anew at the next scan.
func (m *Machine) complete(s *source, t, processes int64) bool {
	if processes <= 0 {
		s.shortScans = 0
		return true
	}
	if s.count.at == t && s.count.n >= processes {
		s.shortScans = 0
		return true
	}
	s.shortScans++
	switch {
	case s.shortScans < shortScansTrusted:
		return false
	case s.shortScans == shortScansTrusted:
		arrived := int64(0)
		if s.count.at == t {
			arrived = s.count.n
		}
		m.notify(Notice{Kind: NoticeShortScans, SourceTags: s.tags, Arrived: arrived, Reported: processes})
	}
	return true
}
