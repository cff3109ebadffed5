package fleet

import (
	"testing"
	"time"

	"github.com/influxdata/telegraf/plugins/processors"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/plugins/processors/alertstate"
)

// The alerter decides for the whole fleet as the README's Fleet section
// says: one group for every node, a digest from two jobs, a one-minute
// window, silent nodes reported after two minutes.
func TestAlerterConfFleetOptions(t *testing.T) {
	t.Setenv("NATS_URL", "nats://nats.example:4222")
	t.Setenv("TELEGRAM_BOT_TOKEN", "123456:ABCdef")
	t.Setenv("TELEGRAM_CHAT_ID", "-100123456789")
	c := load(t, "alerter.conf")
	require.Len(t, c.Processors, 1)
	u, ok := c.Processors[0].Processor.(processors.HasUnwrap)
	require.True(t, ok)
	a, ok := u.Unwrap().(*alertstate.AlertState)
	require.True(t, ok)
	require.NotNil(t, a.GroupBy, "group_by given")
	require.Empty(t, a.GroupBy, "the whole fleet one group")
	require.Equal(t, 1, a.DigestAfter)
	require.Equal(t, time.Minute, time.Duration(a.GroupInterval))
	require.Equal(t, 2*time.Minute, time.Duration(a.SilentAfter))
}
