package telegram

import (
	"testing"

	"github.com/influxdata/telegraf/models"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/botapitest"
)

// TestDeliveredOnceThroughTelegrafBuffer drives the plugin through Telegraf's
// own RunningOutput, whose buffer keeps and resends a failed batch, and new
// events arriving between flushes join the retried batch.
func TestDeliveredOnceThroughTelegrafBuffer(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	ro := models.NewRunningOutput(p.Telegram, &models.OutputConfig{Name: "telegram"}, 10, 100)
	require.NoError(t, ro.Init()) // initializes the plugin again: pacing back on
	p.pace.interval, p.pace.window, p.pace.sleep = 0, 0, p.sleeps.sleep
	require.NoError(t, ro.Connect())

	events := batch(5)
	for _, m := range events[:3] {
		ro.AddMetric(m)
	}
	srv.Enqueue(botapitest.Response{}, botapitest.Response{Status: 500})
	require.Error(t, ro.Write())
	require.Equal(t, 3, ro.BufferLength(), "Telegraf keeps the failed batch")
	require.Equal(t, alertTexts(1, 1), texts(srv.Messages()))

	srv.Enqueue(botapitest.Response{Status: 502})
	ro.AddMetric(events[3])
	require.Error(t, ro.Write())
	require.Equal(t, alertTexts(1, 1), texts(srv.Messages()))

	ro.AddMetric(events[4])
	require.NoError(t, ro.Write())
	require.Equal(t, alertTexts(1, 5), texts(srv.Messages()))
	require.Equal(t, 0, ro.BufferLength())
	require.Equal(t, 7, srv.Requests())
}
