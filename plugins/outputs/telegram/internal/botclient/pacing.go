package botclient

import (
	"context"
	"math"
	"slices"
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

// Pacer spaces the messages to one chat: at least interval apart and, for a
// group, at most max in any sliding window. It is exact (a sliding window over
// the last send times, not a token bucket, which would allow a burst of max
// on top of the refill within one window). Only messages Telegram accepted
// are booked: a request refused with 429 was not sent and does not use up
// the allowance.
type Pacer struct {
	interval time.Duration
	window   time.Duration // 0: no window limit
	max      int

	last time.Time
	sent []time.Time // booked times within the window, oldest first

	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

// NewPacer paces the messages to chatID on the clock of now and sleep.
func NewPacer(chatID string, now func() time.Time, sleep func(context.Context, time.Duration) error) *Pacer {
	p := &Pacer{interval: chatInterval, now: now, sleep: sleep}
	p.SetChat(chatID)
	return p
}

// SetChat applies the limits of chatID's kind, keeping what was booked.
func (p *Pacer) SetChat(chatID string) {
	p.window, p.max = 0, 0
	if isGroup(chatID) {
		p.window, p.max = groupWindow, groupMax
	}
}

// earliest is when a message may go out at or after from, given the last
// booked time and the booked times within the window.
func (p *Pacer) earliest(from, last time.Time, sent []time.Time) time.Time {
	next := from
	if !last.IsZero() {
		if t := last.Add(p.interval); t.After(next) {
			next = t
		}
	}
	if p.window > 0 && len(sent) >= p.max {
		if t := sent[len(sent)-p.max].Add(p.window); t.After(next) {
			next = t
		}
	}
	return next
}

// forget drops booked times that no longer count at t.
func (p *Pacer) forget(t time.Time) {
	for len(p.sent) > 0 && !p.sent[0].Add(p.window).After(t) {
		p.sent = p.sent[1:]
	}
}

// Wait blocks until a message may be sent now. It books nothing: call Book
// once Telegram accepted the message.
func (p *Pacer) Wait(ctx context.Context) error {
	now := p.now()
	p.forget(now)
	if d := p.earliest(now, p.last, p.sent).Sub(now); d > 0 {
		return p.sleep(ctx, d)
	}
	return ctx.Err()
}

// Book records a message Telegram accepted just now.
func (p *Pacer) Book() {
	now := p.now()
	p.last = now
	if p.window > 0 {
		p.forget(now)
		p.sent = append(p.sent, now)
	}
}

// SlotsWithin is how many messages could start within d from now, the one
// now included, given what was booked.
func (p *Pacer) SlotsWithin(d time.Duration) int {
	if p.interval <= 0 && p.window <= 0 {
		return math.MaxInt // no limit
	}
	now := p.now()
	p.forget(now)
	end := now.Add(d)
	last, sent := p.last, slices.Clone(p.sent)
	n := 0
	for t := p.earliest(now, last, sent); !t.After(end); t = p.earliest(t, last, sent) {
		n++
		last = t
		if p.window > 0 {
			sent = append(sent, t)
		}
	}
	return n
}
