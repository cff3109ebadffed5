package alertstate

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/statedir"
)

// Without 'state_file' the state is kept in $PROCBLOCKING_STATE_DIR, else in
// the default state directory; 'state_file = ""' keeps it in memory.
func TestDefaultStateFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", filepath.Join(dir, "xdg"))
	t.Setenv("HOME", filepath.Join(dir, "home"))
	t.Setenv(statedir.Env, "")
	want := statedir.File("alertstate.json")
	require.Equal(t, want, factory().StateFile)

	t.Setenv(statedir.Env, filepath.Join(dir, "mine"))
	p := plugin(t, func(p *AlertState) { p.StateFile = factory().StateFile })
	require.Equal(t, filepath.Join(dir, "mine", "alertstate.json"), p.StateFile)
	p.Apply(procMetric("h1", 7, t0.Add(-2*time.Hour), t0), scanMetric("h1", t0, true, 1))
	require.Len(t, readState(t, p.StateFile).Sources[0].Jobs, 1)
}
