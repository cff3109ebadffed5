package telegram

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/botclient"
)

// copies counts how many messages carry each of batch(n)'s events (merged
// messages hold several).
func copies(msgs []botapitest.Message) map[int]int {
	out := map[int]int{}
	for _, m := range msgs {
		for _, part := range strings.Split(botapitest.VisibleText(m.Text, m.ParseMode), botclient.Separator) {
			var i int
			if _, err := fmt.Sscanf(part, "🚨 event %d", &i); err == nil {
				out[i]++
			}
		}
	}
	return out
}

// settled waits until the queue is empty or the chat holds more than max
// messages: a sender that resends without end fails the test rather than
// hang it.
func settled(t *testing.T, p testPlugin, srv *botapitest.Server, max int) {
	t.Helper()
	require.Eventually(t, func() bool { return p.queue.Len() == 0 || len(srv.Messages()) > max }, 60*time.Second, 5*time.Millisecond,
		"the queue to empty; %d messages so far", len(srv.Messages()))
}

// A Bot API that takes each message and answers later than timeout: the
// timed-out attempt may have been delivered, so the next one waits and gets
// twice the timeout, and the event reaches the chat twice at most. The
// longer timeout stays while the API is slow: the next event goes once.
func TestSlowAPIOneCopyAtMost(t *testing.T) {
	srv := newServer(t)
	srv.SetDefault(botapitest.Response{AnswerDelay: 2500 * time.Millisecond})
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.Timeout = config.Duration(2 * time.Second) })

	queueWrite(t, p, batch(2))
	settled(t, p, srv, 3)
	require.Equal(t, map[int]int{1: 2, 2: 1}, copies(srv.Messages()), "%s", p.log)
	require.Equal(t, 1, p.log.count("W!", `Chat "-1001234567890": no answer within 2s`, "may have taken the message", "timeout of 4s"), p.log.String())
}

// An answer cut off after Telegram took the message (HTTP 200, the body
// ends early): delivered, once; the message_id is unknown, so the job's
// realert goes without a reply reference.
func TestCutOffAnswerDeliveredOnce(t *testing.T) {
	srv := newServer(t)
	srv.SetDefault(botapitest.Response{CutBody: true})
	p := newPlugin(t, srv.URL())

	queueWrite(t, p, []telegraf.Metric{alertEvent("alert", "🚨 event 1", 1)})
	settled(t, p, srv, 1)
	require.Equal(t, alertTexts(1, 1), texts(srv.Messages()))
	require.Equal(t, 1, p.log.count("W!", "Telegram took the message (HTTP 200) but its answer could not be read", "unexpected EOF"), p.log.String())

	srv.SetDefault(botapitest.Response{})
	queueWrite(t, p, []telegraf.Metric{alertEvent("realert", "🔁 event 1", 1)})
	msgs := waitMessages(t, srv, 2)
	require.Len(t, msgs, 2)
	require.Zero(t, msgs[1].ReplyTo)
	require.Zero(t, p.log.count("E!"), p.log.String())
	require.NotContains(t, p.log.String(), testToken)
}

// After an outage, a token being rotated (401) and the bot removed from the
// group (403) hold the backlog: one error per episode naming the chat and
// what to fix, and every event delivered, once, when it works again.
func TestUnauthorizedAndForbiddenHoldTheQueue(t *testing.T) {
	srv := newServer(t)
	srv.SetDefault(botapitest.Response{Status: 500})
	p := newPlugin(t, srv.URL())
	queueWrite(t, p, batch(50))

	for _, r := range []botapitest.Response{
		{Status: 500},
		{Status: 403, Description: botapitest.BotKicked},
		{Status: 401},
	} {
		srv.SetDefault(r)
		seen := srv.Requests()
		require.Eventually(t, func() bool { return srv.Requests() >= seen+3 }, 30*time.Second, 5*time.Millisecond)
	}
	srv.SetDefault(botapitest.Response{})
	require.Eventually(t, func() bool { return len(copies(srv.Messages())) == 50 }, 60*time.Second, 5*time.Millisecond, "%s", p.log)
	for i, n := range copies(srv.Messages()) {
		require.Equal(t, 1, n, "event %d", i)
	}
	require.Equal(t, 1, p.log.count("E!", `chat "-1001234567890"`, botapitest.BotKicked, "add the bot"), p.log.String())
	require.Equal(t, 1, p.log.count("E!", "Unauthorized", "'token'"), p.log.String())
	require.Zero(t, p.log.count("E!", "Dropping"), p.log.String())
}

// Only a message Telegram refuses for its own content is dropped: alone,
// and logged; the others are delivered.
func TestRefusedContentDroppedAlone(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	srv.Enqueue(botapitest.Response{}, botapitest.Response{Status: 400, Description: botapitest.MessageTooLong})

	queueWrite(t, p, batch(3))
	require.Equal(t, []string{alertTexts(1, 1)[0], alertTexts(3, 3)[0]}, texts(waitMessages(t, srv, 2)))
	require.Equal(t, 1, p.log.count("E!"))
	require.Contains(t, p.log.String(), `Dropping 1 alert event for chat "-1001234567890": Bad Request: message is too long (HTTP 400)`)
}

// A merged backlog message refused for its content is not dropped whole:
// its events are sent again one by one, and only one Telegram refuses
// alone is dropped.
func TestRefusedMergedMessageSplit(t *testing.T) {
	srv := newServer(t)
	srv.SetDefault(botapitest.Response{Status: 500})
	p := newPlugin(t, srv.URL())
	queueWrite(t, p, batch(30))
	require.Eventually(t, func() bool { return srv.Requests() >= 2 }, 30*time.Second, 5*time.Millisecond)
	srv.Enqueue(botapitest.Response{Status: 400, Description: botapitest.MessageTooLong},
		botapitest.Response{}, botapitest.Response{Status: 400, Description: botapitest.MessageTooLong})
	srv.SetDefault(botapitest.Response{})

	require.Eventually(t, func() bool { return len(copies(srv.Messages())) == 29 && p.queue.Len() == 0 }, 60*time.Second, 5*time.Millisecond, "%s", p.log)
	got := copies(srv.Messages())
	require.Zero(t, got[2], "event 2 was refused alone")
	require.Equal(t, 1, p.log.count("E!", "Dropping 1 alert event"), p.log.String())
}
