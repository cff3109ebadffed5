package telegram

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/procblocking/procblocking/internal/chatactions"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/botclient"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/queue"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/threads"
)

// The buttons under an alert (buttons = true): Ack and the snoozes of
// chatactions. inputs.telegram_actions reads the presses back, alertstate
// applies them and emits a note ("ack" or "snooze" event), and the output
// edits the alert to show it.

// buttonLabels are the texts of the buttons per language: Ack, and a
// snooze of one choice.
var buttonLabels = map[string]struct {
	ack    string
	snooze func(time.Duration) string
}{
	"en": {ack: "✔ Ack", snooze: func(d time.Duration) string { return "🔕 " + hours(d) + "h" }},
	"ru": {ack: "✔ Принято", snooze: func(d time.Duration) string { return "🔕 " + hours(d) + " ч" }},
}

func hours(d time.Duration) string { return strconv.FormatInt(int64(d/time.Hour), 10) }

type buttons struct {
	lang string
}

func newButtons(lang string) *buttons { return &buttons{lang: lang} }

// keyboard is the keyboard of the job with alertID: Ack on the first row,
// the snoozes on the second.
func (b *buttons) keyboard(alertID string) *botclient.InlineKeyboard {
	l := buttonLabels[b.lang]
	ack := botclient.InlineButton{Text: l.ack, CallbackData: chatactions.Press{Action: chatactions.Ack, AlertID: alertID}.Data()}
	var snoozes []botclient.InlineButton
	for _, d := range chatactions.SnoozeChoices {
		snoozes = append(snoozes, botclient.InlineButton{Text: l.snooze(d), CallbackData: chatactions.Press{Action: chatactions.Snooze, AlertID: alertID, For: d}.Data()})
	}
	return &botclient.InlineKeyboard{InlineKeyboard: [][]botclient.InlineButton{{ack}, snoozes}}
}

// keyboardFor gives a message its buttons: a message of one job's alert,
// or of a realert that starts the job's thread (its alert is not known).
// Realerts replying to the alert leave the buttons there, in one place. A
// digest or a merged message gets none: which job a button would act on is
// not clear.
func (s *sender) keyboardFor(evs []queue.Event) *botclient.InlineKeyboard {
	if s.buttons == nil || len(evs) != 1 || len(evs[0].AlertIDs) != 1 {
		return nil
	}
	switch evs[0].Kind {
	case "alert":
	case "realert":
		if ref, ok := s.threads.Lookup(evs[0].AlertIDs[0]); ok && ref.Chat == s.chatID {
			return nil
		}
	default:
		return nil
	}
	if _, err := chatactions.Parse(chatactions.Press{Action: chatactions.Ack, AlertID: evs[0].AlertIDs[0]}.Data()); err != nil {
		return nil // not an alert_id of alertstate: a press could not name it
	}
	return s.buttons.keyboard(evs[0].AlertIDs[0])
}

// isNote tells an event that edits its job's alert rather than being sent.
func isNote(ev queue.Event) bool {
	return (ev.Kind == chatactions.Ack || ev.Kind == chatactions.Snooze) && len(ev.AlertIDs) == 1
}

// untilNote cuts a run of events to merge before the first note.
func untilNote(evs []queue.Event) []queue.Event {
	for i := 1; i < len(evs); i++ {
		if isNote(evs[i]) {
			return evs[:i]
		}
	}
	return evs
}

func (s *sender) headNote() (queue.Event, bool) {
	evs := s.queue.Head(1)
	if len(evs) == 1 && isNote(evs[0]) {
		return evs[0], true
	}
	return queue.Event{}, false
}

// deliverNote shows a note on its job's alert: the alert's text with the
// note under it (a later note replaces an earlier one), keeping the buttons
// after a snooze and removing them after an ack. When the alert's text is
// not known (it went out merged, or before a restart without a state
// directory) or the alert is gone, the note is sent as a reply to it, or
// alone. Like a message, it is retried while Telegram fails and waits.
func (s *sender) deliverNote(ctx context.Context, ev queue.Event) error {
	id := ev.AlertIDs[0]
	ref, known := s.threads.Lookup(id)
	known = known && ref.Chat == s.chatID
	if known && ref.Text != "" {
		var markup *botclient.InlineKeyboard
		if ev.Kind == chatactions.Snooze && s.buttons != nil {
			markup = s.buttons.keyboard(id)
		}
		r := botclient.Render(ref.Text+botclient.Separator+ev.Text, botclient.MaxTextRunes)
		err := s.client.EditMessageText(ctx, &botclient.EditMessageTextRequest{
			ChatID: ref.Chat, MessageID: ref.MessageID, Text: r.HTML, ParseMode: "HTML",
			LinkPreviewOptions: &botclient.LinkPreviewOptions{IsDisabled: true}, ReplyMarkup: markup,
		})
		var apiErr *botclient.APIError
		switch {
		case err == nil, errors.As(err, &apiErr) && apiErr.Says("message is not modified"):
			s.pace.Book()
			s.endOutage()
			s.threads.SetNote(id, ev.Text)
			s.threads.Save()
			s.queue.Done(ev.Seq)
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &apiErr) && apiErr.Code == http.StatusTooManyRequests:
			return s.waitRetry(ctx, max(apiErr.RetryAfter, time.Second))
		case errors.As(err, &apiErr) && apiErr.Says("message to edit not found"):
			known = false // gone: the note goes alone
		case errors.As(err, &apiErr) && apiErr.Code < 500:
			s.log.Warnf("Chat %q: could not show %q on the alert message %d: %s; sending it as a reply", ref.Chat, ev.Text, ref.MessageID, apiErr.Description)
		default:
			return s.waitRetry(ctx, s.failed(ref.Chat, err, "unavailable", func() {
				s.log.Errorf("Cannot edit the alert in chat %q: %v; retrying", ref.Chat, err)
			}))
		}
	}
	r := botclient.Render(ev.Text, botclient.MaxTextRunes)
	req := &botclient.SendMessageRequest{
		ChatID: s.chatID, Text: r.HTML, ParseMode: "HTML", DisableNotification: true,
		LinkPreviewOptions: &botclient.LinkPreviewOptions{IsDisabled: true}, MessageThreadID: s.threadID,
	}
	if known {
		req.ReplyParameters = &botclient.ReplyParameters{MessageID: ref.MessageID, AllowSendingWithoutReply: true}
	}
	_, wait, err := s.post(ctx, req, r.Plain)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil && wait > 0:
		return s.waitRetry(ctx, wait)
	case err != nil:
		s.log.Errorf("Dropping the %s note for chat %q: %v", ev.Kind, s.chatID, err)
	}
	s.queue.Done(ev.Seq)
	return nil
}

// dropButtons removes the buttons of an alert whose job recovered: nothing
// is left to act on. Best effort, like marking it resolved.
func (s *sender) dropButtons(ctx context.Context, ref threads.Ref) {
	if s.buttons == nil || s.pace.Wait(ctx) != nil {
		return
	}
	err := s.client.EditMessageReplyMarkup(ctx, &botclient.EditMarkupRequest{ChatID: ref.Chat, MessageID: ref.MessageID})
	var apiErr *botclient.APIError
	switch {
	case err == nil:
		s.pace.Book()
	case errors.As(err, &apiErr) && (apiErr.Says("message is not modified") || apiErr.Says("message to edit not found")):
	default:
		if ctx.Err() == nil {
			s.log.Warnf("Chat %q: could not remove the buttons of the alert message %d: %v", ref.Chat, ref.MessageID, err)
		}
	}
}
