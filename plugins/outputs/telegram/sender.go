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
