package alertstate

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		seconds float64
		lang    string
		want    string
	}{
		{0, "en", "0s"},
		{-3, "en", "0s"},
		// Rounded like the "(N s)" printed beside it: 5.8 s is 6 s in both.
		{5.8, "en", "6s"},
		{59.6, "en", "1m 00s"},
		{307, "en", "5m 07s"},
		{7380, "en", "2h 03m"},
		{3*86400 + 4*3600 + 5*60, "en", "3d 04h 05m"},
		{7380, "ru", "2ч 03м"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, humanDuration(tt.seconds, tt.lang), "%v s in %s", tt.seconds, tt.lang)
	}
}
