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
		{"negative generation", `{"version":2,"generation":-1}`, "decoding state"},
		{"generation beyond uint64", `{"version":2,"generation":18446744073709551616}`, "decoding state"},
		{"negative pid", job(`"alerts_sent":1,"others":[{"pid":-4,"created_at":1,"age_seconds":1}]`), "pid -4"},
		{"negative failed_scans", `{"version":2,"sources":[{"tags":{"host":"h"},"failed_scans":-1}]}`, "failed_scans -1"},
		{"source twice", `{"version":2,"sources":[{"tags":{"host":"h"}},{"tags":{"host":"h"}}]}`, "appears twice"},
		{"source with a pid tag", `{"version":2,"sources":[{"tags":{"host":"h","pid":"1"}}]}`, `has a "pid" tag`},
		{"job twice", strings.Replace(job(`"alerts_sent":1`), `}]}]}`, `},{"pid":7,"created_at":1,"head":{"pid":7,"created_at":1,"age_seconds":1},"last_seen_at":1,"alerts_sent":1}]}]}`, 1), "appears twice"},
		{"version 1 without tags", `{"version":1,"processes":[{"tags":{},"alerts_sent":1}]}`, "has no tags"},
		{"version 1 never alerted", `{"version":1,"processes":[{"tags":{"pid":"1"},"alerts_sent":0}]}`, "alerts_sent 0"},
		{"version 2 with version 1 processes", `{"version":2,"processes":[{"tags":{"pid":"1"},"alerts_sent":1}]}`, "version 1's processes"},
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

// Version 1 (one entry per alerted process) becomes one job per process.
func TestRestoreVersion1(t *testing.T) {
	st, err := Decode([]byte(`{"version":1,"generation":42,"processes":[
		{"tags":{"host":"a","pattern":"pytest","pid":"7"},"created_at":100,"first_alert_at":200,"last_alert_at":300,"last_seen_at":400,
		 "alerts_sent":2,"age_seconds":7200,"pid":7,"ppid":1,"cpu_seconds":5,"cpu_usage":50,"orphan":true,"cmdline":"pytest -x","comm":"pytest"},
		{"tags":{"host":"b","pattern":"pytest","pid":"8"},"created_at":101,"first_alert_at":201,"last_alert_at":301,"last_seen_at":401,
		 "alerts_sent":1,"age_seconds":7100,"pid":8,"ppid":9,"cpu_seconds":6,"orphan":false,"cmdline":"pytest -k slow"}],
		"sources":[{"tags":{"host":"b"},"failed_scans":2,"blind":false}]}`))
	require.NoError(t, err)
	m := New(testConfig())
	require.NoError(t, m.Restore(st))
	usage, orphan, notOrphan := 50.0, true, false
	require.Equal(t, State{Version: Version, Generation: 42, Sources: []SourceState{
		{Tags: map[string]string{"host": "a"}, Jobs: []JobState{{
			PID: 7, CreatedAt: 100, AlertsSent: 2, FirstAlertAt: 200, LastAlertAt: 300, LastSeenAt: 400,
			Head: ProcState{PID: 7, PPID: 1, CreatedAt: 100, AgeSeconds: 7200, CPUSeconds: 5, CPUUsage: &usage, Orphan: &orphan, Pattern: "pytest", Cmdline: "pytest -x", Comm: "pytest"},
		}}},
		{Tags: map[string]string{"host": "b"}, FailedScans: 2, Jobs: []JobState{{
			PID: 8, CreatedAt: 101, AlertsSent: 1, FirstAlertAt: 201, LastAlertAt: 301, LastSeenAt: 401,
			Head: ProcState{PID: 8, PPID: 9, CreatedAt: 101, AgeSeconds: 7100, CPUSeconds: 6, Orphan: &notOrphan, Pattern: "pytest", Cmdline: "pytest -k slow"},
		}}},
	}}, m.Snapshot())
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
	require.Equal(t, m.Generation(), r.Generation())
	require.False(t, r.Dirty())
}
