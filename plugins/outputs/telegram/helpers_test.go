package telegram

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/botapi"
	"github.com/procblocking/procblocking/internal/testkit/botapitest"
)

// testToken has the shape of a real token so Connect accepts it.
const testToken = "987654321:AAHsecretPart_-xyzTOKEN"

// testChat is a supergroup: paced to 20 messages a minute.
const testChat = "-1001234567890"

// captureLogger is a telegraf.Logger writing every line into a buffer, so
// tests can search what the plugin logged.
type captureLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *captureLogger) add(level, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+msg)
}

func (l *captureLogger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// count is the number of lines of level (e.g. "E!") containing every one
// of parts.
func (l *captureLogger) count(level string, parts ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
next:
	for _, line := range l.lines {
		if !strings.HasPrefix(line, level+" ") {
			continue
		}
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue next
			}
		}
		n++
	}
	return n
}

func (*captureLogger) Level() telegraf.LogLevel            { return telegraf.Trace }
func (*captureLogger) AddAttribute(string, interface{})    {}
func (l *captureLogger) Errorf(f string, a ...interface{}) { l.add("E!", fmt.Sprintf(f, a...)) }
func (l *captureLogger) Error(a ...interface{})            { l.add("E!", fmt.Sprint(a...)) }
func (l *captureLogger) Warnf(f string, a ...interface{})  { l.add("W!", fmt.Sprintf(f, a...)) }
func (l *captureLogger) Warn(a ...interface{})             { l.add("W!", fmt.Sprint(a...)) }
func (l *captureLogger) Infof(f string, a ...interface{})  { l.add("I!", fmt.Sprintf(f, a...)) }
func (l *captureLogger) Info(a ...interface{})             { l.add("I!", fmt.Sprint(a...)) }
func (l *captureLogger) Debugf(f string, a ...interface{}) { l.add("D!", fmt.Sprintf(f, a...)) }
func (l *captureLogger) Debug(a ...interface{})            { l.add("D!", fmt.Sprint(a...)) }
func (l *captureLogger) Tracef(f string, a ...interface{}) { l.add("T!", fmt.Sprintf(f, a...)) }
func (l *captureLogger) Trace(a ...interface{})            { l.add("T!", fmt.Sprint(a...)) }

// fakeClock is a clock whose sleep advances time at once and records the
// wait. It is safe for concurrent use: the sender's goroutine sleeps while
// the test reads. A sleep still yields a millisecond of real time, so that a
// sender retrying a failing server does not spin.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	slept []time.Duration
	real  time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Unix(1_700_000_000, 0), real: time.Millisecond}
}

// syncClock is a fake clock for code run on the test's goroutine: no real
// time passes at all.
func syncClock() *fakeClock {
	c := newFakeClock()
	c.real = 0
	return c
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.slept = append(c.slept, d)
	c.t = c.t.Add(d)
	c.mu.Unlock()
	if c.real > 0 {
		if err := botapi.Wait(ctx, c.real); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// after advances the clock by d and returns a channel that has fired.
func (c *fakeClock) after(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.t = c.t.Add(max(d, 0))
	t := c.t
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- t
	return ch
}

func (c *fakeClock) sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

type testPlugin struct {
	*Telegram
	log   *captureLogger
	clock *fakeClock
}

// basePlugin is a valid configuration against apiURL, not initialized.
func basePlugin(apiURL string) *Telegram {
	return &Telegram{
		Token:         config.NewSecret([]byte(testToken)),
		ChatID:        testChat,
		APIURL:        apiURL,
		TextField:     "message",
		SilentEvents:  []string{"realert", "recovery"},
		Timeout:       config.Duration(5 * time.Second),
		MaxRetryWait:  config.Duration(10 * time.Second),
		CloseTimeout:  config.Duration(5 * time.Second),
		ThreadReplies: true,
	}
}

// newPlugin builds, initializes and connects a plugin against apiURL on a
// fake clock, and closes it at the end of the test.
func newPlugin(t *testing.T, apiURL string, opts ...func(*Telegram)) testPlugin {
	t.Helper()
	log := &captureLogger{}
	clock := newFakeClock()
	p := basePlugin(apiURL)
	p.Log = log
	for _, o := range opts {
		o(p)
	}
	require.NoError(t, p.Init())
	p.now, p.sleep, p.after = clock.now, clock.sleep, clock.after
	require.NoError(t, p.Connect())
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return testPlugin{p, log, clock}
}

func newServer(t *testing.T) *botapitest.Server { return botapitest.New(t, testToken) }

// alertEvent builds a job's event as alertstate emits it: the headline on
// the first line, the details after it.
func alertEvent(kind, message string, n int) telegraf.Metric {
	return metric.New("procblocking_alert",
		map[string]string{"event": kind, "pattern": "pytest", "pid": strconv.Itoa(4000 + n), "host": "ci-7"},
		map[string]interface{}{"message": message, "count": int64(1), "alert_id": alertID(n)},
		time.Unix(1_700_000_000+int64(n), 0))
}

// alertID is the alert_id of the job of alertEvent(…, n).
func alertID(n int) string { return fmt.Sprintf("%016x", 0xa1e7000+n) }

// batch builds n alert events whose messages are "🚨 event 1".."🚨 event n".
func batch(n int) []telegraf.Metric {
	ms := make([]telegraf.Metric, 0, n)
	for i := 1; i <= n; i++ {
		ms = append(ms, alertEvent("alert", fmt.Sprintf("🚨 event %d", i), i))
	}
	return ms
}

// texts is the text of each accepted message.
func texts(msgs []botapitest.Message) []string {
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, m.Text)
	}
	return out
}

// alertTexts is what the messages of batch(n)[from-1:to] look like.
func alertTexts(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("<b>🚨 event %d</b>", i))
	}
	return out
}

// waitMessages waits until the server accepted n messages and returns them.
func waitMessages(t *testing.T, srv *botapitest.Server, n int) []botapitest.Message {
	t.Helper()
	require.Eventually(t, func() bool { return len(srv.Messages()) >= n }, 30*time.Second, 5*time.Millisecond,
		"waiting for %d messages, got %d", n, len(srv.Messages()))
	return srv.Messages()
}

// queueWrite hands ms to the output: delivered, or queued and not yet
// delivered (without a state directory Write says so, and Telegraf keeps
// the batch).
func queueWrite(t *testing.T, out telegraf.Output, ms []telegraf.Metric) {
	t.Helper()
	if err := out.Write(ms); err != nil {
		require.ErrorIs(t, err, ErrNotDelivered)
	}
}
