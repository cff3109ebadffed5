package botapi

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWaitEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// An hour's wait on an ended context returns at once with its error.
	require.ErrorIs(t, Wait(ctx, time.Hour), context.Canceled)
	require.NoError(t, Wait(context.Background(), time.Millisecond))
}
