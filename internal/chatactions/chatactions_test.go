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
		"snooze:3600", "kill:0123456789abcdef", "ack:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	} {
		_, err := Parse(d)
		require.Error(t, err, d)
	}
}
