package telegram

import (
	"testing"
	"time"

	"github.com/influxdata/telegraf/models"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
)

// TestDeliveredOnceThroughTelegrafBuffer drives the plugin through Telegraf's
// own RunningOutput. Every write succeeds at once, so Telegraf's buffer
// empties while Telegram is down; the plugin's queue delivers everything
// once Telegram is back, and a batch written again is not sent twice.
func TestDeliveredOnceThroughTelegrafBuffer(t *testing.T) {
	srv := newServer(t)
	srv.Enqueue(botapitest.Response{})
	srv.SetDefault(botapitest.Response{Status: 500})
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.StateDirectory = t.TempDir() })
	ro, err := models.NewRunningOutput(p.Telegram, &models.OutputConfig{Name: "telegram"}, 10, 100)
	require.NoError(t, err)

	events := batch(5)
	for _, m := range events[:3] {
		ro.AddMetric(m)
	}
	require.NoError(t, ro.Write())
	require.Equal(t, 0, ro.BufferLength(), "the plugin's queue took the batch")
	waitMessages(t, srv, 1)

	ro.AddMetric(events[3])
	require.NoError(t, ro.Write())
	// Telegraf sends the whole batch again (as after a restart from its
	// disk buffer): nothing is queued twice.
	for _, m := range events {
		ro.AddMetric(m)
	}
	require.NoError(t, ro.Write())
	require.Equal(t, 0, ro.BufferLength())

	srv.SetDefault(botapitest.Response{})
	require.Equal(t, alertTexts(1, 5), texts(waitMessages(t, srv, 5)))
	require.NoError(t, p.Close())
	require.Len(t, srv.Messages(), 5)
}

// Without a state directory the output acknowledges to Telegraf only what
// is delivered: during an outage Telegraf's buffer keeps the batch (and
// with buffer_strategy = "disk", across a crash); writes of the same batch
// queue nothing twice; once Telegram is back, a write finds it delivered
// and Telegraf drops it.
func TestUndeliveredStaysInTelegrafBuffer(t *testing.T) {
	srv := newServer(t)
	srv.SetDefault(botapitest.Response{Status: 502})
	p := newPlugin(t, srv.URL())
	ro, err := models.NewRunningOutput(p.Telegram, &models.OutputConfig{Name: "telegram"}, 10, 100)
	require.NoError(t, err)

	events := batch(5)
	for _, m := range events[:3] {
		ro.AddMetric(m)
	}
	require.ErrorIs(t, ro.Write(), ErrNotDelivered)
	require.Equal(t, 3, ro.BufferLength(), "Telegraf keeps what is not delivered")
	require.Eventually(t, func() bool { return srv.Requests() >= 3 }, 30*time.Second, 5*time.Millisecond)
	for _, m := range events[3:] {
		ro.AddMetric(m)
	}
	err = ro.Write()
	require.ErrorIs(t, err, ErrNotDelivered)
	require.ErrorContains(t, err, "Telegram: telegram API error 502")
	require.ErrorContains(t, err, "set 'state_directory'")
	require.Equal(t, 5, ro.BufferLength())

	srv.SetDefault(botapitest.Response{})
	require.Equal(t, alertTexts(1, 5), texts(waitMessages(t, srv, 5)))
	require.NoError(t, ro.Write(), "delivered: acknowledged")
	require.Zero(t, ro.BufferLength())
	require.Len(t, srv.Messages(), 5, "each event once")
}
