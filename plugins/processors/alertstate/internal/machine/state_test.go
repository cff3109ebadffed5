package machine

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodeRefusesWhatTheMachineCannotHold(t *testing.T) {
	job := func(fields string) string {
		return `{"version":2,"sources":[{"tags":{"host":"h"},"jobs":[{"pid":7,"created_at":1,"head":{"pid":7,"created_at":1,"age_seconds":1},"last_seen_at":1,` + fields + `}]}]}`
	}
	tests := []struct {
		name, data, want string
	}{
		{"empty", "", "empty state file"},
		{"truncated", `{"version":2,"sources":[{"tags":`, "decoding state"},
		{"unknown field", `{"version":2,"procs":[]}`, "unknown field"},
		{"foreign version", `{"version":3}`, "unsupported state version 3"},
		{"no version", `{}`, "unsupported state version 0"},
		{"trailing data", `{"version":2}{}`, "trailing data"},
		{"negative alerts_sent", job(`"alerts_sent":-1`), "alerts_sent -1"},
		{"alerts_sent beyond int64", job(`"alerts_sent":9223372036854775808`), "decoding state"},
		{"version 1", `{"version":1}`, "unsupported state version 1 (want 2)"},
		{"negative pid", job(`"alerts_sent":1,"others":[{"pid":-4,"created_at":1,"age_seconds":1}]`), "pid -4"},
		{"negative failed_scans", `{"version":2,"sources":[{"tags":{"host":"h"},"failed_scans":-1}]}`, "failed_scans -1"},
		{"source twice", `{"version":2,"sources":[{"tags":{"host":"h"}},{"tags":{"host":"h"}}]}`, "appears twice"},
		{"source with a pid tag", `{"version":2,"sources":[{"tags":{"host":"h","pid":"1"}}]}`, `has a "pid" tag`},
		{"job twice", strings.Replace(job(`"alerts_sent":1`), `}]}]}`, `},{"pid":7,"created_at":1,"head":{"pid":7,"created_at":1,"age_seconds":1},"last_seen_at":1,"alerts_sent":1}]}]}`, 1), "appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.data))
			require.ErrorContains(t, err, tt.want)
		})
	}
	st, err := Decode([]byte(job(`"alerts_sent":9223372036854775807`)))
	require.NoError(t, err, "the largest count is valid")
	require.Equal(t, int64(1<<63-1), st.Sources[0].Jobs[0].AlertsSent)
}

// What the machine saves, it restores as it was.
func TestSnapshotRestoreRoundTrip(t *testing.T) {
	m := New(groupConfig())
	runSteps(t, m, []step{
		{at: 0, seen: []ps{{pid: 10, created: -7200, age: 7200}, {pid: 12, created: -7000, age: 7000, job: 10, jobCreated: -7200, noOrphan: true}}, scan: "ok", want: []string{"alert h1/10+12 sent=1"}},
		{at: 10, seen: []ps{{pid: 20, created: -7200, age: 7210}}, scan: "ok"},
		{at: 20, scan: "fail", scanH: "h2"},
	})
	st := m.Snapshot()
	data, err := Encode(st)
	require.NoError(t, err)
	back, err := Decode(data)
	require.NoError(t, err)
	r := New(groupConfig())
	require.NoError(t, r.Restore(back))
	require.Equal(t, st, r.Snapshot())
	require.False(t, r.Dirty())
}
