package telegram

import (
	"testing"

	"github.com/influxdata/telegraf/models"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/botapitest"
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
