package telegram

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is a clock whose sleep advances time instantly.
type fakeClock struct {
	t     time.Time
	slept []time.Duration
}

func (c *fakeClock) now() time.Time { return c.t }

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.slept = append(c.slept, d)
	c.t = c.t.Add(d)
	return ctx.Err()
}

func pacedSends(t *testing.T, chatID string, n int) []time.Time {
	t.Helper()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	p := newPacer(chatID)
	p.now, p.sleep = clock.now, clock.sleep
	sends := make([]time.Time, 0, n)
	for range n {
		require.NoError(t, p.wait(context.Background()))
		sends = append(sends, clock.t)
	}
	return sends
}

func TestIsGroup(t *testing.T) {
	for id, want := range map[string]bool{
		"123456": false, "-123456": true, "-1001234567890": true, "@mychannel": true,
	} {
		require.Equal(t, want, isGroup(id), id)
	}
}

func TestPacingPrivateChatOnePerSecond(t *testing.T) {
	sends := pacedSends(t, "123456", 30)
	for i := 1; i < len(sends); i++ {
		require.Equal(t, time.Second, sends[i].Sub(sends[i-1]), "send %d", i)
	}
}

func TestPacingGroupTwentyPerMinute(t *testing.T) {
	sends := pacedSends(t, "-1001234567890", 65)
	for i := 1; i < len(sends); i++ {
		require.GreaterOrEqual(t, sends[i].Sub(sends[i-1]), time.Second, "send %d", i)
	}
	for i := range sends {
		inWindow := 0
		for _, s := range sends[i:] {
			if s.Sub(sends[i]) < time.Minute {
				inWindow++
			}
		}
		require.LessOrEqual(t, inWindow, 20, "window starting at send %d", i)
	}
	// The first 20 go at 1/s, the 21st waits for the window to slide.
	require.Equal(t, 19*time.Second, sends[19].Sub(sends[0]))
	require.Equal(t, time.Minute, sends[20].Sub(sends[0]))
	// Not slower than needed: 65 sends take three full windows plus 4s.
	require.Equal(t, 3*time.Minute+4*time.Second, sends[64].Sub(sends[0]))
}

func TestPacingNoWaitWhenIdle(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	p := newPacer("-42")
	p.now, p.sleep = clock.now, clock.sleep
	require.NoError(t, p.wait(context.Background()))
	clock.t = clock.t.Add(time.Hour)
	require.NoError(t, p.wait(context.Background()))
	require.Empty(t, clock.slept)
}

func TestPacingStopsOnCancel(t *testing.T) {
	p := newPacer("42")
	p.interval = time.Hour
	require.NoError(t, p.wait(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, p.wait(ctx), context.Canceled)
}
