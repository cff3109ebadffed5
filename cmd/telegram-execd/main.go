// Command telegram-execd runs the outputs.telegram plugin under an unmodified
// Telegraf as an [[outputs.execd]] command.
//
// Telegraf writes line protocol to its stdin; the alert events among them are
// handed to the plugin, which queues them (on disk with a state directory)
// and delivers them in the background. The plugin is configured as under the
// shim, but the events are relayed by relay.go rather than by the shim's
// output loop.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/influxdata/telegraf/plugins/common/shim"

	"github.com/procblocking/procblocking/plugins/outputs/telegram"
)

func main() {
	configFile := flag.String("config", "", "path to the plugin's configuration file (one [[outputs.telegram]] table)")
	stateDir := flag.String("state-directory", "",
		"directory where the output keeps its queue and threads, so that undelivered events survive a crash (sets the plugin's state_directory)")
	flag.Parse()

	loaded, err := shim.LoadConfig(configFile)
	if err != nil || loaded.Output == nil {
		fmt.Fprintf(os.Stderr, "telegram-execd: loading config: %v\n", orNoOutput(err))
		os.Exit(1)
	}
	if tg, ok := loaded.Output.(*telegram.Telegram); ok && *stateDir != "" {
		tg.StateDirectory = *stateDir
	}
	// AddOutput gives the plugin its logger and runs Init, as the shim does.
	s := shim.New()
	if err := s.AddOutput(loaded.Output); err != nil {
		fmt.Fprintf(os.Stderr, "telegram-execd: %v\n", err)
		os.Exit(1)
	}
	out := loaded.Output
	if err := out.Connect(); err != nil {
		fmt.Fprintf(os.Stderr, "telegram-execd: connecting: %v\n", err)
		os.Exit(1)
	}
	r := &relay{out: out, batchWait: 100 * time.Millisecond, log: log.New(os.Stderr, "telegram-execd: ", 0)}
	r.run(os.Stdin)
	// Delivers what is queued within the plugin's close_timeout; the rest
	// waits in the state directory for the next start.
	if err := out.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "telegram-execd: closing: %v\n", err)
	}
}

func orNoOutput(err error) error {
	if err != nil {
		return err
	}
	return errors.New("no [[outputs.telegram]] in the file")
}
