package main

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/common/shim"
	"github.com/influxdata/telegraf/plugins/serializers/influx"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

const token = "123456:relay-test-token"

func newTelegram(t *testing.T, apiURL string) telegraf.Output {
	t.Helper()
	path := filepath.Join(t.TempDir(), "telegram.conf")
	conf := fmt.Sprintf("[[outputs.telegram]]\n  token = %q\n  chat_id = \"4242\"\n  api_url = %q\n  timeout = \"2s\"\n  max_retry_wait = \"1s\"\n", token, apiURL)
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
	loaded, err := shim.LoadConfig(&path)
	require.NoError(t, err)
	require.NoError(t, shim.New().AddOutput(loaded.Output))
	require.NoError(t, loaded.Output.Connect())
	t.Cleanup(func() { _ = loaded.Output.Close() })
	return loaded.Output
}

// lineProtocol serializes events as Telegraf's outputs.execd would.
func lineProtocol(t *testing.T, ms ...telegraf.Metric) []byte {
	t.Helper()
	s := &influx.Serializer{}
	require.NoError(t, s.Init())
	b, err := s.SerializeBatch(ms)
	require.NoError(t, err)
	return b
}

func event(kind, message string, pid int64, at time.Time) telegraf.Metric {
	return metric.New("procblocking_alert",
		map[string]string{"event": kind, "pid": fmt.Sprint(pid), "host": "h1"},
		map[string]any{"message": message, "count": int64(1), "pid": pid}, at)
}

func TestRelayMultiLineEventsSurviveAnOutage(t *testing.T) {
	api := botapitest.New(t, token)
	// The first two attempts fail as a Telegram outage would.
	api.Enqueue(botapitest.Response{Status: 500, Description: "Internal Server Error"},
		botapitest.Response{Status: 502, Description: "Bad Gateway"})

	in, feed := io.Pipe()
	var stderr proctest.Buffer
	out := newTelegram(t, api.URL())
	r := &relay{out: out, batchWait: 10 * time.Millisecond, log: log.New(&stderr, "", 0)}
	done := make(chan struct{})
	go func() {
		r.run(in)
		close(done)
	}()

	now := time.Now()
	// alertstate's messages span lines; the shim's own loop splits on them.
	_, err := feed.Write(lineProtocol(t,
		event("alert", "🚨 ALERT on h1\nPID 4242, running 2h 03m\ncmdline: pytest -k \"a b\"", 4242, now),
		event("alert", "🚨 ALERT on h1\nPID 4343", 4343, now)))
	require.NoError(t, err)

	require.Eventually(t, func() bool { return len(api.Messages()) == 2 }, 30*time.Second, 10*time.Millisecond,
		"both events delivered after the outage; stderr: %s", stderr.String())
	require.NoError(t, feed.Close())
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the relay did not end when its input closed")
	}

	msgs := api.Messages()
	require.Equal(t, "<b>🚨 ALERT on h1</b>\nPID 4242, running 2h 03m\ncmdline: pytest -k &#34;a b&#34;", msgs[0].Text)
	require.Contains(t, msgs[1].Text, "PID 4343")
	// Two failed attempts, then one per event: nothing sent twice.
	require.Equal(t, 2+len(msgs), api.Requests())
	require.NotContains(t, stderr.String(), token)
	// Without --state-directory the outage is worth one line: what a crash
	// would have lost.
	require.Equal(t, "Events not yet delivered are queued in memory only: a crash loses them; give --state-directory to keep them on disk\n",
		stderr.String())
}

func TestRelaySkipsGarbageAndKeepsGoing(t *testing.T) {
	api := botapitest.New(t, token)
	var stderr proctest.Buffer
	out := newTelegram(t, api.URL())
	r := &relay{out: out, batchWait: 10 * time.Millisecond, log: log.New(&stderr, "", 0)}

	input := append([]byte("this is not line protocol\n"), lineProtocol(t, event("recovery", "✅ RECOVERY on h1", 7, time.Now()))...)
	r.run(bytes.NewReader(input))
	require.NoError(t, out.Close(), "delivers what the relay handed over")

	require.Len(t, api.Messages(), 1)
	require.Contains(t, api.Messages()[0].Text, "RECOVERY on h1")
	require.Contains(t, stderr.String(), "not line protocol")
}

// Telegram answers only after the input has closed: the relay has handed
// every event over, and the output's Close delivers them.
func TestRelayHandsEverythingOverWhenInputCloses(t *testing.T) {
	api := botapitest.New(t, token)
	api.Enqueue(botapitest.Response{Delay: 300 * time.Millisecond})
	out := newTelegram(t, api.URL())
	r := &relay{out: out, batchWait: time.Hour, log: log.New(io.Discard, "", 0)}

	now := time.Now()
	r.run(bytes.NewReader(lineProtocol(t, event("alert", "🚨 one", 1, now), event("alert", "🚨 two", 2, now))))
	require.NoError(t, out.Close())
	require.Len(t, api.Messages(), 2)
}
