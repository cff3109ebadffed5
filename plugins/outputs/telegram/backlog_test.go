package telegram

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/botclient"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/queue"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/threads"
)

// testSender is a sender driven step by step on the test's goroutine, with a
// clock in which no real time passes: what it does at which (fake) time is
// exactly reproducible.
type testSender struct {
	*sender
	clock *fakeClock
	log   *captureLogger
	plug  *Telegram
}

func newTestSender(t *testing.T, apiURL, chatID string) *testSender {
	t.Helper()
	log := &captureLogger{}
	clock := syncClock()
	p := basePlugin(apiURL)
	p.ChatID = chatID
	p.Log = log
	p.now, p.sleep, p.after = clock.now, clock.sleep, clock.after
	require.NoError(t, p.Init())
	var err error
	p.client, err = p.newClient()
	require.NoError(t, err)
	t.Cleanup(p.client.Close)
	p.queue = queue.New(log)
	th, err := threads.Load("", log)
	require.NoError(t, err)
	return &testSender{sender: p.newSender(th), clock: clock, log: log, plug: p}
}

// write queues metrics as Write does.
func (s *testSender) write(t *testing.T, ms []telegraf.Metric) {
	t.Helper()
	var evs []queue.Event
	for _, m := range ms {
		ev, ok := s.plug.toEvent(m)
		require.True(t, ok)
		evs = append(evs, ev)
	}
	s.queue.Push(evs)
}

// drain delivers until the queue is empty and returns the fake time it
// took; then it stays quiet, as run does.
func (s *testSender) drain(t *testing.T) time.Duration {
	t.Helper()
	start := s.clock.now()
	for steps := 0; s.queue.Len() > 0; steps++ {
		require.Less(t, steps, 10_000, "the queue does not drain")
		require.NoError(t, s.deliverNext(context.Background()))
	}
	took := s.clock.now().Sub(start)
	s.idle(backlogHorizon)
	return took
}

// idle lets d pass with nothing to send.
func (s *testSender) idle(d time.Duration) {
	s.clock.t = s.clock.t.Add(d)
	s.quiet()
}

// burst is n alert events of distinct jobs with alertstate-like messages.
func burst(n int) []telegraf.Metric {
	ms := make([]telegraf.Metric, 0, n)
	for i := 1; i <= n; i++ {
		ms = append(ms, alertEvent("alert", fmt.Sprintf(
			"🚨 Blocking process pytest on ci-7 for 1h 02m (orphaned)\nPID %d, CPU 12.5 s\nCommand: python -m pytest tests/test_%03d.py", 10_000+i, i), i))
	}
	return ms
}

// A burst of 300 events reaches a group chat (20 messages a minute) in a
// handful of messages within a minute or two: merged in order, each event
// exactly once, whole; one log line when the backlog starts and one when it
// has drained.
func TestBurstToGroupIsMerged(t *testing.T) {
	srv := newServer(t)
	s := newTestSender(t, srv.URL(), testChat)
	events := burst(300)
	s.write(t, events)
	took := s.drain(t)

	msgs := srv.Messages()
	t.Logf("300 events: %d messages over %s", len(msgs), took)
	require.LessOrEqual(t, len(msgs), 20, "a handful of messages")
	require.LessOrEqual(t, took, 2*time.Minute)
	var seen []string
	for _, m := range msgs {
		require.LessOrEqual(t, len([]rune(botapitest.VisibleText(m.Text, "HTML"))), botclient.MaxTextRunes)
		seen = append(seen, strings.Split(botapitest.VisibleText(m.Text, "HTML"), botclient.Separator)...)
	}
	require.Len(t, seen, 300, "every event accounted for")
	for i, m := range events {
		text, _ := m.GetField("message")
		require.Equal(t, text, seen[i], "event %d whole and in order", i+1)
	}
	require.Equal(t, 1, s.log.count("I!", "is backed up: 300 events waiting"), s.log.String())
	require.Equal(t, 1, s.log.count("I!", fmt.Sprintf("the backlog has drained: 300 events in %d messages", len(msgs))), s.log.String())
	require.Equal(t, 2, s.log.count("I!"), s.log.String())
}

// Events arriving faster than pacing lets out are merged once they pile
// up, and not before: a few events go one by one, as their own threads.
func TestMergeOnlyWhenBackedUp(t *testing.T) {
	srv := newServer(t)
	s := newTestSender(t, srv.URL(), testChat)
	s.write(t, burst(5))
	s.drain(t)
	require.Len(t, srv.Messages(), 5, "5 events within what pacing lets out soon: one message each")
	require.Zero(t, s.log.count("I!", "backed up"))

	// 3 events a second for a minute (180): the first ones go alone, then
	// they pile up and are merged, and the queue drains within the minute
	// after the last arrived.
	var evs []telegraf.Metric
	for i, m := range burst(180) {
		m.AddTag("pid", fmt.Sprint(20_000+i)) // other jobs than the first 5
		evs = append(evs, m)
	}
	start := s.clock.now()
	for len(evs) > 0 || s.queue.Len() > 0 {
		for len(evs) > 0 && !s.clock.now().Before(start.Add(time.Duration(180-len(evs))*time.Second/3)) {
			s.write(t, evs[:1])
			evs = evs[1:]
		}
		if s.queue.Len() == 0 {
			s.idle(time.Second / 3)
			continue
		}
		require.NoError(t, s.deliverNext(context.Background()))
	}
	took := s.clock.now().Sub(start)
	s.idle(backlogHorizon)
	msgs := srv.Messages()[5:]
	t.Logf("180 events over 60 s: %d messages, drained %s after the first", len(msgs), took)
	require.LessOrEqual(t, took, 2*time.Minute)
	require.Less(t, len(msgs), 60)
	var n int
	for _, m := range msgs {
		n += strings.Count(m.Text, "<b>")
	}
	require.Equal(t, 180, n, "every event once")
	require.Equal(t, 1, s.log.count("I!", "is backed up"), "one backlog, however often the queue emptied: %s", s.log.String())
	require.Equal(t, 1, s.log.count("I!", "the backlog has drained"), s.log.String())
}

// A 429 does not use up the pacing allowance: after Telegram refused forty
// attempts in a row, the first message goes as soon as retry_after allows
// and the second a second later (it waited 41 s when every refused attempt
// was booked).
func Test429DoesNotUseUpPacing(t *testing.T) {
	srv := newServer(t)
	s := newTestSender(t, srv.URL(), testChat)
	var storm []botapitest.Response
	for range 40 {
		storm = append(storm, botapitest.Response{Status: http.StatusTooManyRequests, RetryAfter: 1})
	}
	srv.Enqueue(storm...)
	s.write(t, batch(2))

	require.NoError(t, s.deliverNext(context.Background()))
	first := s.clock.now()
	require.NoError(t, s.deliverNext(context.Background()))
	require.Equal(t, time.Second, s.clock.now().Sub(first))
	require.Equal(t, alertTexts(1, 2), texts(srv.Messages()))
	require.Equal(t, 42, srv.Requests())
}
