package streak

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

type lines []string

func (l *lines) Warnf(format string, args ...any) {
	*l = append(*l, "W! "+fmt.Sprintf(format, args...))
}
func (l *lines) Infof(format string, args ...any) {
	*l = append(*l, "I! "+fmt.Sprintf(format, args...))
}

func TestOneWarningPerStreak(t *testing.T) {
	var log lines
	var f Failures
	f.OK(&log, "Writing x")
	require.Empty(t, log, "working is not news")

	for i := range 3 {
		f.Fail(&log, "Writing x", fmt.Errorf("disk full %d", i), "kept in memory")
	}
	require.Equal(t, lines{"W! Writing x failed: disk full 0; kept in memory"}, log)

	f.OK(&log, "Writing x")
	f.OK(&log, "Writing x")
	require.Equal(t, "I! Writing x works again after 3 failed attempts", log[1])
	require.Len(t, log, 2, "said once")

	f.Fail(&log, "Writing x", errors.New("disk full again"), "kept in memory")
	require.Equal(t, "W! Writing x failed: disk full again; kept in memory", log[2], "a new streak warns again")
}

func TestFailedStartsAStreakQuietly(t *testing.T) {
	var log lines
	var f Failures
	f.Failed()
	f.Fail(&log, "Writing x", errors.New("still"), "kept in memory")
	require.Empty(t, log, "the caller reported the first failure")
	f.OK(&log, "Writing x")
	require.Equal(t, lines{"I! Writing x works again after 2 failed attempts"}, log)
}
