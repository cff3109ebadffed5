package telegram_actions

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/procblocking/procblocking/internal/botapi"
	"github.com/procblocking/procblocking/internal/chatactions"
)

const (
	// pollLimit is how many updates one getUpdates takes.
	pollLimit = 100
	// The waits after a failed poll: doubling from firstWait to maxWait.
	firstWait = time.Second
	maxWait   = 30 * time.Second
)

// pollFailures reports the first failure of each kind once (a webhook set
// later is news even within a streak of timeouts) and counts the streak for
// the backoff.
type pollFailures struct {
	cause string
	count int
}

// poll long-polls getUpdates until ctx ends. Each update is handled, then
// its offset saved; the next getUpdates confirms it to Telegram.
func (t *TelegramActions) poll(ctx context.Context, acc telegraf.Accumulator) {
	for ctx.Err() == nil {
		if t.botName == "" {
			if name, err := t.client.botUsername(ctx); err == nil {
				t.botName = name
			}
		}
		if !t.offset.known {
			if !t.skipBacklog(ctx) {
				continue
			}
		}
		began := time.Now()
		ups, err := t.client.getUpdates(ctx, t.offset.next, pollLimit, time.Duration(t.PollTimeout))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			_ = botapi.Wait(ctx, t.failed(ctx, err))
			continue
		}
		t.recovered()
		if len(ups) == 0 {
			// An API (or a proxy) that answers a long poll at once would make
			// this a busy loop.
			_ = botapi.Wait(ctx, firstWait-time.Since(began))
			continue
		}
		for i := range ups {
			t.handle(ctx, acc, &ups[i])
		}
		t.offset.save(ups[len(ups)-1].UpdateID + 1)
	}
}

// skipBacklog confirms the updates pending at the very first start: they
// come from before this agent kept any state and are not acted on.
func (t *TelegramActions) skipBacklog(ctx context.Context) bool {
	ups, err := t.client.getUpdates(ctx, -1, 1, 0)
	if err != nil {
		if ctx.Err() == nil {
			_ = botapi.Wait(ctx, t.failed(ctx, err))
		}
		return false
	}
	t.recovered()
	next := t.offset.next
	if len(ups) > 0 {
		next = ups[len(ups)-1].UpdateID + 1
		t.Log.Infof("First start with offset file %q: skipped the updates sent to the bot before it (they are not acted on)", t.offset.path)
	}
	t.offset.save(next)
	return true
}

// failed logs a failed poll, once per cause, and returns the wait before
// the next one.
func (t *TelegramActions) failed(ctx context.Context, err error) time.Duration {
	var apiErr *apiError
	cause := "transport"
	msg := "Polling Telegram failed: " + err.Error() + "; retrying"
	if errors.As(err, &apiErr) {
		cause = strconv.Itoa(apiErr.Code)
		switch {
		case apiErr.Code == http.StatusConflict && strings.Contains(apiErr.Description, "webhook"):
			cause = "webhook"
			hook, _ := t.client.webhookURL(ctx)
			msg = webhookError(hook).Error() + "; retrying"
		case apiErr.Code == http.StatusConflict:
			msg = "Another poller takes this bot's updates (" + apiErr.Description + "): only one inputs.telegram_actions per bot token " +
				"can work (a fleet's alerter only); presses go to one of them at random until the other stops; retrying"
		case apiErr.Code == http.StatusUnauthorized || apiErr.Code == http.StatusNotFound:
			msg = "Telegram refuses the bot (" + apiErr.Description + "): check 'token' and 'api_url'; retrying"
		}
	}
	t.failures.count++
	if t.failures.cause != cause {
		t.failures.cause = cause
		t.Log.Error(msg)
	} else {
		t.Log.Debug(msg)
	}
	wait := firstWait << min(t.failures.count-1, 10)
	if apiErr != nil && apiErr.RetryAfter > wait {
		return apiErr.RetryAfter
	}
	return min(wait, maxWait)
}

func (t *TelegramActions) recovered() {
	if t.failures.count > 0 {
		t.Log.Infof("Polling Telegram works again after %d failed attempt(s)", t.failures.count)
		t.failures = pollFailures{}
	}
}

// ourChat tells whether a chat is the configured one.
func (t *TelegramActions) ourChat(c chat) bool {
	if name, ok := strings.CutPrefix(t.ChatID, "@"); ok {
		return strings.EqualFold(c.Username, name)
	}
	return strconv.FormatInt(c.ID, 10) == t.ChatID
}

// handle acts on one update: a press is answered at once (the spinner
// stops) and emitted, allowed or not; /status from an allowed user is
// emitted. Anything from another chat is ignored.
func (t *TelegramActions) handle(ctx context.Context, acc telegraf.Accumulator, up *update) {
	switch {
	case up.CallbackQuery != nil:
		t.press(ctx, acc, up.CallbackQuery)
	case up.Message != nil:
		t.command(acc, up.Message)
	}
}

func (t *TelegramActions) press(ctx context.Context, acc telegraf.Accumulator, q *callbackQuery) {
	if q.Message == nil || !t.ourChat(q.Message.Chat) {
		// Another chat's button (the bot is in several): not ours to act on,
		// and its owner answers it.
		return
	}
	now := t.now()
	allowed := t.allowed[q.From.ID]
	p, parseErr := chatactions.Parse(q.Data)
	var answer string
	switch {
	case parseErr != nil:
		t.Log.Warnf("Press of user %d on message %d: %v; answered, nothing done", q.From.ID, q.Message.MessageID, parseErr)
		answer = t.texts.unknown
	case !allowed:
		answer = t.texts.notAllowed(q.From.ID)
	case p.Action == chatactions.Ack:
		answer = t.texts.acked
	default:
		answer = t.texts.snoozed(now.Add(p.For))
	}
	actx, cancel := context.WithTimeout(ctx, time.Duration(t.Timeout))
	if err := t.client.answerCallbackQuery(actx, q.ID, answer); err != nil && ctx.Err() == nil {
		// Late (a restart) or answered already: the press still counts.
		t.Log.Debugf("Answering the press of user %d: %v", q.From.ID, err)
	}
	cancel()
	if parseErr != nil {
		return
	}
	fields := map[string]any{
		"user_id":    q.From.ID,
		"username":   q.From.Username,
		"allowed":    allowed,
		"alert_id":   p.AlertID,
		"message_id": q.Message.MessageID,
	}
	if p.Action == chatactions.Snooze {
		fields["snooze_seconds"] = int64(p.For / time.Second)
		fields["until"] = now.Add(p.For).Unix()
	}
	if !allowed {
		t.Log.Infof("Refused a press of user %d (@%s): not in 'allowed_users'", q.From.ID, q.From.Username)
	}
	acc.AddFields(chatactions.Measurement, fields, map[string]string{"action": p.Action}, now)
}

// command emits /status (and /status@<this bot>) of the chat.
func (t *TelegramActions) command(acc telegraf.Accumulator, m *message) {
	if !t.ourChat(m.Chat) || m.From == nil || len(m.Entities) == 0 || m.Entities[0].Type != "bot_command" || m.Entities[0].Offset != 0 {
		return
	}
	cmd, _, _ := strings.Cut(m.Text, " ")
	name, bot, addressed := strings.Cut(cmd, "@")
	if name != "/status" || addressed && t.botName != "" && !strings.EqualFold(bot, t.botName) {
		return
	}
	allowed := t.allowed[m.From.ID]
	if !allowed {
		t.Log.Infof("Ignored /status of user %d (@%s): not in 'allowed_users'", m.From.ID, m.From.Username)
	}
	acc.AddFields(chatactions.Measurement, map[string]any{
		"user_id":    m.From.ID,
		"username":   m.From.Username,
		"allowed":    allowed,
		"message_id": m.MessageID,
	}, map[string]string{"action": chatactions.Status}, t.now())
}
