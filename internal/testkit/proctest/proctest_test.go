package proctest

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestOutputAndExit(t *testing.T) {
	p := Start(t, []string{"PROCTEST_WORD=hello"}, "sh", "-c", `echo "$PROCTEST_WORD"; echo partial >&2; printf 'one\ntwo\nthr'; exit 3`)
	err := p.Wait(t, 10*time.Second)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 3, exit.ExitCode())
	require.True(t, p.Exited())
	require.Equal(t, err, p.Err())
	require.Equal(t, "hello\none\ntwo\nthr", p.Stdout.String())
	require.Equal(t, []string{"hello", "one", "two"}, p.Stdout.Lines(), "the unfinished line is not one yet")
	require.Equal(t, "partial\n", p.Stderr.String())
}

func TestCleanupEndsARunningProcess(t *testing.T) {
	var pid int
	t.Run("leaves it running", func(t *testing.T) {
		p := Start(t, nil, "sleep", "600")
		pid = p.PID()
		require.False(t, p.Exited())
		require.NoError(t, p.Err())
	})
	// The subtest's cleanup killed and reaped it: the PID is gone.
	require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestKill(t *testing.T) {
	p := Start(t, nil, "sleep", "600")
	p.Kill(t)
	require.True(t, p.Exited())
	require.ErrorContains(t, p.Err(), "killed")
}

func TestWaitFor(t *testing.T) {
	start := time.Now()
	WaitFor(t, 5*time.Second, "a moment", func() bool { return time.Since(start) > 100*time.Millisecond })
	require.Greater(t, time.Since(start), 100*time.Millisecond)
}
