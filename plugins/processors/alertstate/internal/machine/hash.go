package machine

import "strconv"

// The tags that tell processes of one source apart.
const (
	TagPID     = "pid"
	TagPattern = "pattern"
)

// ProcessTag tells whether a tag key belongs to a process rather than to its
// source.
func ProcessTag(key string) bool { return key == TagPID || key == TagPattern }

// FNV-1a, written out so that hashing a metric's tags does not allocate.
const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime  uint64 = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func fnvUint(h, v uint64) uint64 {
	for range 8 {
		h ^= v & 0xff
		h *= fnvPrime
		v >>= 8
	}
	return h
}

// SourceID is the one hash of a source: of the tags of a metric, in the
// order given (Telegraf keeps them sorted by key), without pid and pattern.
// The plugin hashes a metric's tags and a saved state's tags with it, so the
// two always agree.
func SourceID[T any](tags []T, tag func(T) (key, value string)) uint64 {
	h := fnvOffset
	for _, t := range tags {
		k, v := tag(t)
		if ProcessTag(k) {
			continue
		}
		h = fnvString(h, k)
		h = (h ^ 0xff) * fnvPrime
		h = fnvString(h, v)
		h = (h ^ 0xfe) * fnvPrime
	}
	return h
}

func tagKV(t Tag) (string, string) { return t.Key, t.Value }

// AlertID identifies a job across its alert, realerts and recovery, and
// across restarts: 16 lowercase hex digits derived from its source and its
// top process's PID and start time.
func AlertID(source uint64, job JobID) string {
	h := fnvUint(fnvUint(fnvUint(fnvOffset, source), uint64(job.PID)), uint64(job.CreatedAt)) // bits, not values
	s := strconv.FormatUint(h, 16)
	const zeros = "0000000000000000"
	return zeros[len(s):] + s
}
