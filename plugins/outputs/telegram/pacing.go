package telegram

import (
	"context"
	"strings"
	"time"
)

// Telegram's documented limits: about one message per second to one chat,
// and at most 20 messages per minute to one group or channel.
const (
	chatInterval = time.Second
	groupWindow  = time.Minute
	groupMax     = 20
)

// isGroup tells a group, supergroup or channel from a private chat by the
// chat id: their numeric ids are negative ("-100…" for supergroups and
// channels), and an "@name" always names a public channel or supergroup.
// A private chat with a user has a positive id.
func isGroup(chatID string) bool {
	return strings.HasPrefix(chatID, "-") || strings.HasPrefix(chatID, "@")
}

// pacer spaces the requests to one chat: at least interval apart and, for a
// group, at most max in any sliding window. It is exact (a sliding window over
// the last send times, not a token bucket, which would allow a burst of max
// on top of the refill within one window).
type pacer struct {
	interval time.Duration
	window   time.Duration // 0: no window limit
	max      int

	last time.Time
	sent []time.Time // send times within the window, oldest first

	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

func newPacer(chatID string) *pacer {
	p := &pacer{interval: chatInterval, now: time.Now, sleep: sleepCtx}
	if isGroup(chatID) {
		p.window, p.max = groupWindow, groupMax
	}
	return p
}

// wait blocks until the next message may be sent and books it.
func (p *pacer) wait(ctx context.Context) error {
	now := p.now()
	next := now
	if !p.last.IsZero() {
		if t := p.last.Add(p.interval); t.After(next) {
			next = t
		}
	}
	if p.window > 0 {
		for len(p.sent) > 0 && !p.sent[0].Add(p.window).After(next) {
			p.sent = p.sent[1:]
		}
		if len(p.sent) >= p.max {
			if t := p.sent[len(p.sent)-p.max].Add(p.window); t.After(next) {
				next = t
			}
		}
	}
	if d := next.Sub(now); d > 0 {
		if err := p.sleep(ctx, d); err != nil {
			return err
		}
	}
	sent := p.now()
	if sent.Before(next) {
		sent = next
	}
	p.last = sent
	if p.window > 0 {
		p.sent = append(p.sent, sent)
	}
	return nil
}

// sleepCtx sleeps for d unless ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
