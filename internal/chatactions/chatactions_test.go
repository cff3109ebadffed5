package chatactions

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDataRoundTripsWithinTelegramsLimit(t *testing.T) {
	for _, p := range []Press{
		{Action: Ack, AlertID: "0123456789abcdef"},
		{Action: Snooze, AlertID: "ffffffffffffffff", For: 24 * time.Hour},
		{Action: Snooze, AlertID: "0000000000000000", For: time.Hour},
	} {
		d := p.Data()
		require.LessOrEqual(t, len(d), maxData, d)
		got, err := Parse(d)
		require.NoError(t, err, d)
		require.Equal(t, p, got)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, d := range []string{
		"", "ack", "ack:", "ack:0123456789ABCDEF", "ack:0123456789abcde", "ack:1234",
		"snooze:0:0123456789abcdef", "snooze:-5:0123456789abcdef", "snooze:x:0123456789abcdef",
		"snooze:3600", "snooze:060:0123456789abcdef", "snooze:+60:0123456789abcdef", "kill:0123456789abcdef", "ack:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	} {
		_, err := Parse(d)
		require.Error(t, err, d)
	}
}

// Callback data comes from a chat: whatever it holds, Parse refuses it or
// returns a press whose Data is the same bytes.
func FuzzParseCallbackData(f *testing.F) {
	f.Add("ack:0123456789abcdef")
	f.Add("snooze:3600:ffffffffffffffff")
	f.Add("snooze:00:0123456789abcdef")
	f.Fuzz(func(t *testing.T, data string) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		if p.Data() != data {
			t.Fatalf("Parse(%q) = %+v, whose Data is %q", data, p, p.Data())
		}
	})
}
