package machine

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Any bytes: an error or a state that restores, saves and loads again to
// the same state; never a panic.
func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":2,"sources":[{"tags":{"host":"h"},"jobs":[{"pid":7,"created_at":1,"head":{"pid":7,"created_at":1,"age_seconds":7200,"cpu_usage":1e308,"orphan":true},"alerts_sent":0,"last_seen_at":2}]}]}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := Decode(data)
		if err != nil {
			return
		}
		m := New(testConfig())
		require.NoError(t, m.Restore(st))
		saved := m.Snapshot()
		data2, err := Encode(saved)
		require.NoError(t, err)
		st2, err := Decode(data2)
		require.NoError(t, err)
		m2 := New(testConfig())
		require.NoError(t, m2.Restore(st2))
		require.Equal(t, m.Jobs(), m2.Jobs())
		require.Equal(t, saved, m2.Snapshot())
	})
}
