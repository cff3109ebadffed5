package textutil

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"", 5, ""},
		{"short", 5, "short"},
		{"longer", 5, "long…"},
		{"ПРИВЕТ мир", 4, "ПРИ…"},
		{"🚨🚨🚨", 2, "🚨…"},
		{"abc", 1, "…"},
		{"abc", 0, ""},
		{"abc", -1, ""},
	}
	for _, tt := range tests {
		got := Truncate(tt.in, tt.n)
		require.Equal(t, tt.want, got, "Truncate(%q, %d)", tt.in, tt.n)
		require.True(t, utf8.ValidString(got))
		require.LessOrEqual(t, utf8.RuneCountInString(got), max(tt.n, 0))
	}
}
