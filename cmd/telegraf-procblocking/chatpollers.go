package main

import (
	"github.com/influxdata/telegraf/config"

	"github.com/procblocking/procblocking/plugins/inputs/telegram_actions"
)

// quietChatPollers keeps inputs.telegram_actions from polling in a test
// run: it would take the bot's updates (the presses) from the agent that
// runs, and a test run applies none of them. The inputs stay in the
// configuration, so that every table keeps its place in error messages.
func quietChatPollers(c *config.Config) []string {
	var notices []string
	for _, ri := range c.Inputs {
		if ta, ok := ri.Input.(*telegram_actions.TelegramActions); ok {
			ta.TestRun = true
			if notices == nil {
				notices = append(notices, "I! inputs.telegram_actions does not poll the bot in a test run: the running agent's presses stay its own")
			}
		}
	}
	return notices
}
