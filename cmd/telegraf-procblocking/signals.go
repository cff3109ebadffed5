package main

import (
	"os"
	"os/signal"
	"syscall"
)

// signals receives the requests the process gets by signal. A stop request
// (SIGINT, SIGTERM) has a channel of its own: signal.Notify drops a signal
// whose channel is full, so in a channel shared with SIGHUP a pending reload
// would leave no room for the stop after it.
type signals struct {
	stopC   chan os.Signal
	reloadC chan os.Signal
}

func notifySignals() *signals {
	s := &signals{stopC: make(chan os.Signal, 1), reloadC: make(chan os.Signal, 1)}
	signal.Notify(s.stopC, syscall.SIGINT, syscall.SIGTERM)
	// SIGHUPs that arrive while one is pending are one reload, not many.
	signal.Notify(s.reloadC, syscall.SIGHUP)
	return s
}

func (s *signals) stop() {
	signal.Stop(s.stopC)
	signal.Stop(s.reloadC)
}

// stopPending returns a stop request already received, without waiting.
func (s *signals) stopPending() (os.Signal, bool) {
	select {
	case sig := <-s.stopC:
		return sig, true
	default:
		return nil, false
	}
}
