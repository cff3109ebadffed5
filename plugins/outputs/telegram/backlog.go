package telegram

import (
	"time"

	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/queue"
)

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
