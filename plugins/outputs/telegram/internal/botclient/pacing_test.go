package botclient

import (
	"context"
	"testing"
	"time"

	"github.com/procblocking/procblocking/internal/botapi"
	"github.com/stretchr/testify/require"
)

// testClock is a fake clock whose sleep advances time at once and records
// the wait: no real time passes at all.
type testClock struct {
	t     time.Time
	slept []time.Duration
}

func syncClock() *testClock { return &testClock{t: time.Unix(1_700_000_000, 0)} }

func (c *testClock) now() time.Time { return c.t }

func (c *testClock) sleep(ctx context.Context, d time.Duration) error {
	c.slept = append(c.slept, d)
	c.t = c.t.Add(d)
	return ctx.Err()
}

func (c *testClock) sleeps() []time.Duration { return c.slept }

func testPacer(chatID string, clock *testClock) *Pacer {
	return NewPacer(chatID, clock.now, clock.sleep)
}

// pacedSends sends n messages as the sender does (wait, then book what
// Telegram accepted) and returns their times.
func pacedSends(t *testing.T, chatID string, n int) []time.Time {
	t.Helper()
	clock := syncClock()
	p := testPacer(chatID, clock)
	sends := make([]time.Time, 0, n)
	for range n {
		require.NoError(t, p.Wait(context.Background()))
		p.Book()
		sends = append(sends, clock.now())
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
	clock := syncClock()
	p := testPacer("-42", clock)
	require.NoError(t, p.Wait(context.Background()))
	p.Book()
	clock.t = clock.t.Add(time.Hour)
	require.NoError(t, p.Wait(context.Background()))
	require.Empty(t, clock.sleeps())
}

// Attempts Telegram refused are not booked: forty refused attempts in a
// minute leave the whole allowance for the messages that follow.
func TestPacingBooksOnlyAcceptedMessages(t *testing.T) {
	clock := syncClock()
	p := testPacer("-1001234567890", clock)
	for range 40 {
		require.NoError(t, p.Wait(context.Background()))
		clock.t = clock.t.Add(time.Second) // the 429's retry_after
	}
	require.Empty(t, clock.sleeps())
	require.Equal(t, 11, p.SlotsWithin(10*time.Second))
}

func TestSlotsWithin(t *testing.T) {
	clock := syncClock()
	private := testPacer("42", clock)
	require.Equal(t, 11, private.SlotsWithin(10*time.Second), "now, then one a second")
	private.Book()
	require.Equal(t, 10, private.SlotsWithin(10*time.Second))

	group := testPacer("-42", clock)
	for range 15 {
		group.Book()
		clock.t = clock.t.Add(time.Second)
	}
	require.Equal(t, 5, group.SlotsWithin(10*time.Second), "the window has 5 left")
	clock.t = clock.t.Add(time.Minute)
	require.Equal(t, 11, group.SlotsWithin(10*time.Second))
}

func TestPacingStopsOnCancel(t *testing.T) {
	p := NewPacer("42", time.Now, botapi.Wait)
	p.interval = time.Hour
	require.NoError(t, p.Wait(context.Background()))
	p.Book()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, p.Wait(ctx), context.Canceled)
}
