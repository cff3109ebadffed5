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

	"github.com/procblocking/procblocking/internal/botapitest"
)

// testToken has the shape of a real token so Connect accepts it.
const testToken = "987654321:AAHsecretPart_-xyzTOKEN"

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

func (l *captureLogger) count(level string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.HasPrefix(line, level+" ") {
			n++
		}
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

// sleepLog records the waits the plugin asked for instead of sleeping, so
// tests of 429 handling and pacing run instantly.
type sleepLog struct {
	mu sync.Mutex
	ds []time.Duration
}

func (s *sleepLog) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ds = append(s.ds, d)
	return ctx.Err()
}

func (s *sleepLog) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.ds...)
}

type testPlugin struct {
	*Telegram
	log    *captureLogger
	sleeps *sleepLog
}

// newPlugin builds, initializes and connects a plugin against apiURL with
// pacing off (pacing has its own tests) and waits recorded, not slept.
func newPlugin(t *testing.T, apiURL string, opts ...func(*Telegram)) testPlugin {
	t.Helper()
	log := &captureLogger{}
	p := &Telegram{
		Token:        config.NewSecret([]byte(testToken)),
		ChatID:       "-1001234567890",
		APIURL:       apiURL,
		TextField:    "message",
		SilentEvents: []string{"realert", "recovery"},
		Timeout:      config.Duration(5 * time.Second),
		MaxRetryWait: config.Duration(10 * time.Second),
		Log:          log,
	}
	for _, o := range opts {
		o(p)
	}
	require.NoError(t, p.Init())
	require.NoError(t, p.Connect())
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	sleeps := &sleepLog{}
	p.pace.interval, p.pace.window = 0, 0
	p.pace.sleep = sleeps.sleep
	return testPlugin{p, log, sleeps}
}

func newServer(t *testing.T) *botapitest.Server { return botapitest.New(t, testToken) }

// alertEvent builds an event as alertstate emits it.
func alertEvent(kind, message string, n int) telegraf.Metric {
	return metric.New("procblocking_alert",
		map[string]string{"event": kind, "pattern": "pytest", "pid": strconv.Itoa(4000 + n), "host": "ci-7"},
		map[string]interface{}{"message": message, "count": int64(1), "pid": int64(4000 + n)},
		time.Unix(1_700_000_000+int64(n), 0))
}

// batch builds n alert events whose messages are "event 1".."event n".
func batch(n int) []telegraf.Metric {
	ms := make([]telegraf.Metric, 0, n)
	for i := 1; i <= n; i++ {
		ms = append(ms, alertEvent("alert", fmt.Sprintf("event %d", i), i))
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
		out = append(out, fmt.Sprintf("🚨 <b>Alert</b>\nevent %d", i))
	}
	return out
}
