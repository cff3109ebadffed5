package telegram

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/botclient"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/queue"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/threads"
)

const (
	// backlogHorizon: the queue is backed up when more events wait than
	// pacing lets out within this time. Its waiting events are then merged
	// into as few messages as they fit in, until it has drained: stayed
	// empty for this long.
	backlogHorizon = 10 * time.Second
	// firstRetryWait is the wait after a first failed attempt; it doubles
	// with each failure up to max_retry_wait.
	firstRetryWait = time.Second
	// resolvedMark starts the first line of an alert whose job recovered
	// (edit_alert_on_recovery): a sign, not a word, as the output does not
	// know the message's language.
	resolvedMark = "✅ "
	// maxTimeoutFactor caps the growth of the timeout after timeouts that
	// may have delivered the message: at most this many times 'timeout'.
	maxTimeoutFactor = 8
)

// sender delivers the queue in the background: in order, paced, retried
// until Telegram takes each message or refuses it for good, threaded, and
// merged when backed up. Only its own goroutine uses it.
type sender struct {
	chatID     string // follows a group's upgrade to a supergroup
	configChat string // 'chat_id'
	// migrationPath keeps a group's upgrade across restarts ("": memory
	// only).
	migrationPath string
	threadID      int64
	silent        map[string]bool
	replies       bool
	markResolved  bool
	buttons       *buttons // nil: no buttons under alerts (buttons.go)
	maxRetryWait  time.Duration
	timeout       time.Duration // 'timeout': the first attempt's

	client  *botclient.Client
	pace    *botclient.Pacer
	queue   *queue.Queue
	threads *threads.Map
	log     telegraf.Logger
	now     func() time.Time
	sleep   func(context.Context, time.Duration) error
	after   func(time.Duration) <-chan time.Time

	drain    <-chan struct{} // closed when the output is closing
	retryCtx context.Context // ends retry waits: cancelled when drain closes
	lastSent time.Time
	backlog  *episode // nil while not backed up
	failing  *episode // nil while deliveries succeed
	// slow is the timeout of the next attempt after timeouts that may have
	// delivered the message (0: 'timeout'). It stays while the API
	// answers slower than 'timeout', so a slow API gets each message once.
	slow time.Duration
	// splitUntil: the events up to this seq go one per message, after a
	// merged message holding them was refused for its content.
	splitUntil uint64
	// down is the failure that keeps the queue waiting, for Write to report
	// ("" while deliveries succeed).
	down atomic.Pointer[string]
}

// failure is what keeps the queue waiting: "" while deliveries succeed.
func (s *sender) failure() string {
	if p := s.down.Load(); p != nil {
		return *p
	}
	return ""
}

// episode is a backlog or an outage, reported once when it starts and once
// when it ends.
type episode struct {
	start    time.Time
	events   int    // backlog: events sent or dropped
	messages int    // backlog: messages; outage: failed attempts
	cause    string // outage: what failed; a new cause is reported anew
}

// errStopping ends a delivery that would have to wait for a retry while
// the output is closing: what is queued stays for the next start, rather
// than holding up the agent's stop (or a reload) for close_timeout.
var errStopping = errors.New("closing")

// run delivers until ctx ends or, once drain is closed, the queue is empty
// or a delivery fails.
func (s *sender) run(ctx context.Context, drain <-chan struct{}) {
	s.drain = drain
	// A wait for a retry ends when the output starts closing.
	retryCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.retryCtx = retryCtx
	go func() {
		select {
		case <-drain:
			cancel()
		case <-retryCtx.Done():
		}
	}()
	for {
		if s.queue.Len() == 0 {
			var quiet <-chan time.Time
			if s.backlog != nil {
				quiet = s.after(s.lastSent.Add(backlogHorizon).Sub(s.now()))
			}
			select {
			case <-s.queue.Wake():
			case <-quiet:
				s.quiet()
			case <-drain:
				return
			case <-ctx.Done():
				return
			}
			continue
		}
		if s.deliverNext(ctx) != nil {
			return
		}
	}
}

// deliverNext sends the next message: the oldest event alone or, when the
// queue is backed up, as many waiting events as fit in one message. It
// retries until the message is delivered or refused for good (then logged
// and dropped). It returns an error only when ctx ends, or when a retry
// would be needed while the output is closing.
func (s *sender) deliverNext(ctx context.Context) error {
	if s.queue.Recreated() {
		// The state directory was made again: what it held goes back.
		s.threads.Save()
		if s.chatID != s.configChat {
			if err := threads.SaveMigration(s.migrationPath, s.configChat, s.chatID); err != nil {
				s.log.Warnf("Cannot record the upgrade in %q: %v", s.migrationPath, err)
			}
		}
	}
	for {
		if err := s.pace.Wait(ctx); err != nil {
			return err
		}
		if ev, ok := s.headNote(); ok {
			return s.deliverNote(ctx, ev)
		}
		evs, req, plainText := s.compose()
		if len(evs) == 0 {
			return nil
		}
		id, wait, err := s.post(ctx, req, plainText)
		switch {
		case ctx.Err() != nil:
			// Maybe delivered, maybe not: kept, and sent at the next start
			// (a duplicate is possible, a loss is not).
			return ctx.Err()
		case err != nil && wait > 0:
			if err := s.waitRetry(ctx, wait); err != nil {
				return err
			}
			continue // compose again: more may be waiting by now
		case err != nil && len(evs) > 1:
			// Refused for its content: which event is at fault is unknown,
			// so each goes alone and only that one is dropped.
			s.splitUntil = evs[len(evs)-1].Seq
			continue
		}
		s.finish(ctx, evs, req.ChatID, id, err)
		return nil
	}
}

// compose builds the next message from the head of the queue.
func (s *sender) compose() ([]queue.Event, *botclient.SendMessageRequest, string) {
	waiting := s.queue.Len()
	if waiting == 0 {
		return nil, nil, ""
	}
	limit := 1
	if s.backedUp(waiting) {
		limit = botclient.MaxEventsPerMessage
	}
	evs := untilNote(s.queue.Head(limit))
	if evs[0].Seq <= s.splitUntil {
		evs = evs[:1]
	}
	parts := make([]botclient.Rendered, len(evs))
	for i, ev := range evs {
		parts[i] = botclient.Render(ev.Text, botclient.MaxTextRunes)
	}
	n, htmlText, plainText := botclient.Pack(parts)
	evs = evs[:n]
	return evs, &botclient.SendMessageRequest{
		ChatID:              s.chatID,
		Text:                htmlText,
		ParseMode:           "HTML",
		DisableNotification: s.silentAll(evs),
		LinkPreviewOptions:  &botclient.LinkPreviewOptions{IsDisabled: true},
		MessageThreadID:     s.threadID,
		ReplyParameters:     s.replyTo(evs),
		ReplyMarkup:         s.keyboardFor(evs),
	}, plainText
}

// waitRetry waits before the next attempt; it gives up at once when the
// output is closing.
func (s *sender) waitRetry(ctx context.Context, wait time.Duration) error {
	if s.closing() {
		return errStopping
	}
	if s.retryCtx != nil {
		ctx = s.retryCtx
	}
	if err := s.sleep(ctx, wait); err != nil {
		if s.closing() {
			return errStopping
		}
		return err
	}
	return nil
}

// finish records what became of a message's events: delivered (the threads
// updated, an alert marked resolved) or refused for good (logged). Either
// way they leave the queue.
func (s *sender) finish(ctx context.Context, evs []queue.Event, chatID string, messageID int64, err error) {
	var resolved []threads.Ref
	var apiErr *botclient.APIError
	switch {
	case errors.As(err, &apiErr):
		s.log.Errorf("Dropping %s for chat %q: %s (HTTP %d)", kinds(evs), chatID, apiErr.Description, apiErr.Code)
	case err != nil:
		s.log.Errorf("Dropping %s for chat %q: %v", kinds(evs), chatID, err)
	default:
		resolved = s.recordThreads(evs, messageID)
	}
	s.queue.Done(evs[len(evs)-1].Seq)
	if s.backlog != nil {
		s.backlog.events += len(evs)
		s.backlog.messages++
	}
	for _, ref := range resolved {
		if s.markResolved && ref.Text != "" {
			s.resolve(ctx, ref)
		} else {
			s.dropButtons(ctx, ref)
		}
	}
}

func (s *sender) closing() bool {
	select {
	case <-s.drain:
		return true
	default:
		return false
	}
}

// post sends one message, resending it at once as plain text when Telegram
// refuses the HTML, without the reply when the message replied to is gone,
// and to a group's new id when it became a supergroup. It returns the
// message_id, or an error with the time to wait before trying again, or an
// error and no wait when the message is refused for good.
func (s *sender) post(ctx context.Context, req *botclient.SendMessageRequest, plainText string) (int64, time.Duration, error) {
	for {
		start := time.Now() // the API's real latency, whatever clock paces
		id, err := s.client.SendMessage(ctx, req, s.slow)
		var lost *botclient.UnreadableAnswer
		if errors.As(err, &lost) {
			s.log.Warnf("Chat %q: Telegram took the message (HTTP %d) but its answer could not be read (%v): not sent again; "+
				"without its message_id, its job's realerts and recovery will not be replies", req.ChatID, lost.Status, lost.Err)
			err = nil
		}
		if err == nil {
			s.pace.Book()
			s.lastSent = s.now()
			s.endOutage()
			if s.slow > 0 && time.Since(start) < s.timeout {
				s.log.Infof("Chat %q: Telegram answers within %s again", req.ChatID, s.timeout)
				s.slow = 0
			}
			return id, 0, nil
		}
		if ctx.Err() != nil {
			return 0, 0, err
		}
		var terr *botclient.TransportError
		if errors.As(err, &terr) && terr.Timeout() && terr.Sent() {
			return 0, s.maybeSent(req.ChatID, err), err
		}
		var apiErr *botclient.APIError
		if errors.As(err, &apiErr) {
			switch {
			case apiErr.Code == http.StatusTooManyRequests:
				wait := max(apiErr.RetryAfter, time.Second)
				if wait > s.maxRetryWait {
					s.log.Warnf("Chat %q: Telegram asks to wait %s before the next message (429)", req.ChatID, wait)
				} else {
					s.log.Debugf("Chat %q: rate limited, retrying after %s", req.ChatID, wait)
				}
				return 0, wait, err
			case apiErr.MigrateTo != 0 && strconv.FormatInt(apiErr.MigrateTo, 10) != req.ChatID:
				s.migrate(apiErr.MigrateTo)
				req.ChatID = s.chatID
				req.ReplyParameters = nil // an id of the old chat
				continue
			case apiErr.ParseError() && req.ParseMode != "":
				s.log.Warnf("Chat %q: Telegram refused the HTML (%s); sending the message as plain text", req.ChatID, apiErr.Description)
				req.Text, req.ParseMode = plainText, ""
				continue
			case apiErr.ReplyNotFound() && req.ReplyParameters != nil:
				req.ReplyParameters = nil
				continue
			case apiErr.ConfigFault() != "":
				return 0, s.refused(req.ChatID, apiErr), err
			case apiErr.Dropped():
				return 0, 0, err
			}
		}
		return 0, s.failed(req.ChatID, err, "unavailable", func() {
			s.log.Errorf("Cannot deliver to chat %q: %v; retrying with waits of up to %s, %d event(s) queued",
				req.ChatID, err, s.maxRetryWait, s.queue.Len())
		}), err
	}
}

// refused notes an attempt refused for a fault of the configuration or of
// the chat (401, 403, chat or topic not found): nothing is dropped, the
// queue waits for someone to fix it. One error per episode names the chat
// and what to fix.
func (s *sender) refused(chatID string, apiErr *botclient.APIError) time.Duration {
	return s.failed(chatID, apiErr, strconv.Itoa(apiErr.Code)+apiErr.Description, func() {
		s.log.Errorf("Cannot deliver to chat %q: %s (HTTP %d): %s; holding %d event(s) and retrying with waits of up to %s",
			chatID, apiErr.Description, apiErr.Code, apiErr.ConfigFault(), s.queue.Len(), s.maxRetryWait)
	})
}

// maybeSent notes an attempt that timed out after the whole request went
// out: Telegram may have taken the message, and has no idempotency key. The
// next attempt waits at least as long as this one did and gets twice its
// timeout (up to maxTimeoutFactor times 'timeout'), so that an API that
// stays slow gets the message through the second time: one copy too many
// at most.
func (s *sender) maybeSent(chatID string, err error) time.Duration {
	took := max(s.slow, s.timeout)
	first := s.slow == 0
	s.slow = min(2*took, maxTimeoutFactor*s.timeout)
	wait := max(s.failed(chatID, err, "slow", func() {}), took)
	if first {
		s.log.Warnf("Chat %q: no answer within %s: Telegram may have taken the message; sending it again in %s with a timeout of %s (the chat may show it twice)",
			chatID, took, wait, s.slow)
	} else {
		s.log.Debugf("Chat %q: no answer within %s; next attempt in %s with a timeout of %s", chatID, took, wait, s.slow)
	}
	return wait
}

// failed notes a failed attempt that is worth retrying (5xx, an answer that
// is not the API's, a timeout, a refused connection, a proxy refusing, a
// configuration fault) and returns the wait before the next one. The first
// failure of an outage, and the first of each new cause, is reported by
// report; the others are logged at debug level.
func (s *sender) failed(chatID string, err error, cause string, report func()) time.Duration {
	if s.failing == nil {
		s.failing = &episode{start: s.now()}
	}
	if s.failing.cause != cause {
		s.failing.cause = cause
		msg := "Telegram: " + err.Error()
		s.down.Store(&msg)
		s.queue.Notify()
		report()
	} else {
		s.log.Debugf("Chat %q: attempt failed: %v", chatID, err)
	}
	s.failing.messages++
	wait := firstRetryWait << min(s.failing.messages-1, 20)
	return max(min(wait, s.maxRetryWait), firstRetryWait)
}

func (s *sender) endOutage() {
	if s.failing == nil {
		return
	}
	s.down.Store(nil)
	s.log.Infof("Chat %q: delivering again after %d failed attempt(s) over %s",
		s.chatID, s.failing.messages, s.now().Sub(s.failing.start).Round(time.Second))
	s.failing = nil
}

// migrate follows a group's upgrade to a supergroup, and records it in the
// state directory so that the next start sends there at once and its
// threads, recorded under the new id, go on.
func (s *sender) migrate(to int64) {
	newID := strconv.FormatInt(to, 10)
	until := " until the agent restarts"
	if s.migrationPath != "" {
		until = ""
		if err := threads.SaveMigration(s.migrationPath, s.configChat, newID); err != nil {
			until = " until the agent restarts"
			s.log.Warnf("Cannot record the upgrade in %q: %v", s.migrationPath, err)
		}
	}
	s.log.Errorf("Chat %q was upgraded to a supergroup with the id %q: sending there%s; set 'chat_id' = %q in the configuration",
		s.chatID, newID, until, newID)
	s.setChat(newID)
}

func (s *sender) setChat(chatID string) {
	s.chatID = chatID
	s.pace.SetChat(chatID)
}

// backedUp reports whether the queue is backed up: more events wait than
// pacing lets out within backlogHorizon. A backlog lasts until the queue has
// drained; its start and end are logged, once each.
func (s *sender) backedUp(waiting int) bool {
	if s.backlog != nil {
		return true
	}
	if waiting <= s.pace.SlotsWithin(backlogHorizon) {
		return false
	}
	s.backlog = &episode{start: s.now()}
	s.log.Infof("Chat %q is backed up: %d events waiting, more than Telegram's pacing lets out within %s; merging them into fewer messages until the queue has drained",
		s.chatID, waiting, backlogHorizon)
	return true
}

// quiet ends a backlog once the queue has stayed empty for backlogHorizon
// since the last message.
func (s *sender) quiet() {
	if s.backlog == nil || s.queue.Len() > 0 || s.now().Before(s.lastSent.Add(backlogHorizon)) {
		return
	}
	// lastSent is before the start when every message was refused.
	end := s.lastSent
	if end.Before(s.backlog.start) {
		end = s.backlog.start
	}
	s.log.Infof("Chat %q: the backlog has drained: %d events in %d messages over %s",
		s.chatID, s.backlog.events, s.backlog.messages, end.Sub(s.backlog.start).Round(time.Second))
	s.backlog = nil
}

// silentAll: a message goes without sound only when every event in it is
// one of silent_events.
func (s *sender) silentAll(evs []queue.Event) bool {
	for _, ev := range evs {
		if !s.silent[ev.Kind] {
			return false
		}
	}
	return len(evs) > 0
}

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

// kinds counts the events of evs by kind for a log line: "1 alert event",
// "2 realert, 1 recovery events".
func kinds(evs []queue.Event) string {
	counts := map[string]int{}
	var order []string
	for _, ev := range evs {
		k := cmp.Or(ev.Kind, "untagged")
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	parts := make([]string, len(order))
	for i, k := range order {
		parts[i] = strconv.Itoa(counts[k]) + " " + k
	}
	if len(evs) == 1 {
		return parts[0] + " event"
	}
	return strings.Join(parts, ", ") + " events"
}
