package telegram

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/botclient"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/queue"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/threads"
)

// replyTo is the message a message replies to: the question an answer
// answers (/status), else the first alert of the jobs its realerts and
// recoveries belong to, when they all belong to one message of this chat.
// An alert starts a thread and replies to nothing.
func (s *sender) replyTo(evs []queue.Event) *botclient.ReplyParameters {
	if len(evs) == 1 && evs[0].ReplyTo != 0 {
		// An answer replies to its question (/status), threads or not.
		return &botclient.ReplyParameters{MessageID: evs[0].ReplyTo, AllowSendingWithoutReply: true}
	}
	if !s.replies {
		return nil
	}
	var target int64
	for _, ev := range evs {
		if ev.Kind == "alert" {
			continue
		}
		for _, id := range ev.AlertIDs {
			ref, ok := s.threads.Lookup(id)
			if !ok || ref.Chat != s.chatID {
				continue
			}
			if target != 0 && target != ref.MessageID {
				return nil // several threads: none is the right one
			}
			target = ref.MessageID
		}
	}
	if target == 0 {
		return nil
	}
	return &botclient.ReplyParameters{MessageID: target, AllowSendingWithoutReply: true}
}

// recordThreads notes what a delivered message means for the threads: an
// alert starts one (each alert_id of a digest or of a merged message points
// at this message), a realert whose alert is unknown starts one too, a
// recovery ends its job's. It returns the alerts to mark resolved.
func (s *sender) recordThreads(evs []queue.Event, messageID int64) []threads.Ref {
	if !s.replies && !s.markResolved && s.buttons == nil {
		return nil
	}
	var resolved []threads.Ref
	changed := false
	for _, ev := range evs {
		if len(ev.AlertIDs) == 0 {
			continue
		}
		ref := threads.Ref{Chat: s.chatID, MessageID: messageID, At: s.now().Unix()}
		switch {
		case messageID == 0 && ev.Kind != "recovery":
			// Delivered, but its answer was lost: nothing to reply to.
		case ev.Kind == "alert":
			if (s.markResolved || s.buttons != nil) && len(evs) == 1 && len(ev.AlertIDs) == 1 {
				ref.Text = ev.Text
			}
			s.threads.Record(ev.AlertIDs, ref)
			changed = true
		case ev.Kind == "realert":
			var unknown []string
			for _, id := range ev.AlertIDs {
				if old, ok := s.threads.Lookup(id); !ok || old.Chat != s.chatID {
					unknown = append(unknown, id)
				}
			}
			if len(unknown) > 0 {
				s.threads.Record(unknown, ref)
				changed = true
			}
		case ev.Kind == "recovery":
			for _, gone := range s.threads.Forget(ev.AlertIDs) {
				changed = true
				if (s.markResolved && gone.Text != "" || s.buttons != nil) && gone.Chat == s.chatID {
					resolved = append(resolved, gone)
				}
			}
		}
	}
	if changed {
		s.threads.Save()
	}
	return resolved
}

// resolve marks an alert whose job recovered: its first line gets
// resolvedMark. Best effort: a failure is logged and not retried, except
// once after a 429.
func (s *sender) resolve(ctx context.Context, ref threads.Ref) {
	text := ref.Text
	if ref.Note != "" {
		text += botclient.Separator + ref.Note // who acted stays on the alert
	}
	r := botclient.Render(resolvedMark+text, botclient.MaxTextRunes)
	req := &botclient.EditMessageTextRequest{
		ChatID: ref.Chat, MessageID: ref.MessageID, Text: r.HTML, ParseMode: "HTML",
		LinkPreviewOptions: &botclient.LinkPreviewOptions{IsDisabled: true},
	}
	for attempt := 0; attempt < 2; attempt++ {
		if s.pace.Wait(ctx) != nil {
			return
		}
		err := s.client.EditMessageText(ctx, req)
		var apiErr *botclient.APIError
		switch {
		case err == nil:
			s.pace.Book()
			return
		case errors.As(err, &apiErr) && apiErr.Says("message is not modified"):
			return // marked already
		case errors.As(err, &apiErr) && apiErr.Says("message to edit not found"):
			s.log.Debugf("Chat %q: the alert message %d to mark resolved is gone", ref.Chat, ref.MessageID)
			return
		case errors.As(err, &apiErr) && apiErr.Code == http.StatusTooManyRequests && attempt == 0:
			if s.sleep(ctx, max(apiErr.RetryAfter, time.Second)) != nil {
				return
			}
		default:
			if ctx.Err() == nil {
				s.log.Warnf("Chat %q: could not mark the alert message %d resolved: %v", ref.Chat, ref.MessageID, err)
			}
			return
		}
	}
}
