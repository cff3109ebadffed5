package telegram

import (
	"strconv"
	"time"

	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/botclient"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/threads"
)

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
