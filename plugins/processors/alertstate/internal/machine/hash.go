package machine

import (
	"encoding/binary"
	"hash/fnv"
	"strconv"
)

// The tags that tell processes of one source apart.
const (
	TagPID     = "pid"
	TagPattern = "pattern"
)

// ProcessTag tells whether a tag key belongs to a process rather than to its
// source.
func ProcessTag(key string) bool { return key == TagPID || key == TagPattern }

// SourceID is the one hash of a source: of the tags of a metric, in the
// order given (Telegraf keeps them sorted by key), without pid and pattern.
// The plugin hashes a metric's tags and a saved state's tags with it, so the
// two always agree.
func SourceID[T any](tags []T, tag func(T) (key, value string)) uint64 {
	h := fnv.New64a()
	for _, t := range tags {
		k, v := tag(t)
		if ProcessTag(k) {
			continue
		}
		// The separators are bytes no UTF-8 text holds.
		_, _ = h.Write([]byte(k))
		_, _ = h.Write([]byte{0xff})
		_, _ = h.Write([]byte(v))
		_, _ = h.Write([]byte{0xfe})
	}
	return h.Sum64()
}

func tagKV(t Tag) (string, string) { return t.Key, t.Value }

// AlertID identifies a job across its alert, realerts and recovery, and
// across restarts: 16 lowercase hex digits derived from its source and its
// top process's PID and start time.
func AlertID(source uint64, job JobID) string {
	var b [24]byte // bits, not values
	binary.LittleEndian.PutUint64(b[0:], source)
	binary.LittleEndian.PutUint64(b[8:], uint64(job.PID))
	binary.LittleEndian.PutUint64(b[16:], uint64(job.CreatedAt))
	h := fnv.New64a()
	_, _ = h.Write(b[:])
	s := strconv.FormatUint(h.Sum64(), 16)
	const zeros = "0000000000000000"
	return zeros[len(s):] + s
}
