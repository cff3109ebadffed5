package telegram_actions

import (
	"fmt"
	"sync"
)

// pollers holds the bot ids polled in this process: two pollers of one bot
// take each other's updates (Telegram answers the older poll 409), so each
// press would reach one of them at random.
var (
	pollersMu sync.Mutex
	pollers   = map[string]bool{}
)

// claim takes the bot for this poller; release gives it back. A reload
// stops the old inputs before starting the new ones, so it claims again.
func claim(botID string) (release func(), err error) {
	pollersMu.Lock()
	defer pollersMu.Unlock()
	if pollers[botID] {
		return nil, fmt.Errorf("a second [[inputs.telegram_actions]] for bot %s in this agent: only one poller per bot token can work (Telegram answers the other 409 Conflict); keep one", botID)
	}
	pollers[botID] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			pollersMu.Lock()
			defer pollersMu.Unlock()
			delete(pollers, botID)
		})
	}, nil
}
