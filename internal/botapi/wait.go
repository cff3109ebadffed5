package botapi

import (
	"context"
	"time"
)

// Wait waits for d unless ctx ends first, and says which: the wait between
// attempts of the output's sender and of the chat input's poll, which must
// both give up at once when the agent stops.
func Wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
