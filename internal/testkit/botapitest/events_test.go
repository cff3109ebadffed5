package botapitest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEventKind(t *testing.T) {
	for text, want := range map[string]string{
		"🚨 <b>pytest</b> blocked":      "alert",
		"<b>🔁 still there</b>":         "realert",
		"<b><i>✅ gone</i></b>":         "recovery",
		"⚠️ scan failed":               "scan_failed",
		"⚠ scan failed":                "scan_failed",
		"🟢 scans work again":           "scan_recovered",
		"🔇 Watchdog on n1 silent":      "source_silent",
		"📡 Watchdog on n1 heard again": "source_back",
		"📋 Stuck jobs: 2":              "status",
		"🔕 Snoozed by @alice":          "snooze",
		"✔ Acknowledged by @bob":       "ack",
		"pytest 🚨":                     "other",
		"":                             "other",
		"<b unterminated":              "other",
	} {
		require.Equal(t, want, EventKind(text), "%q", text)
	}
	require.Equal(t, []string{"alert", "recovery"}, EventKinds([]Message{{Text: "🚨 a"}, {Text: "✅ b"}}))
}
