// Command telegram-execd runs the outputs.telegram plugin under an unmodified
// Telegraf as an [[outputs.execd]] command.
//
// Telegraf writes line protocol to its stdin; the alert events among them are
// sent to Telegram. The plugin is configured as under the shim, but the
// events are relayed by relay.go rather than by the shim's output loop.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/influxdata/telegraf/plugins/common/shim"

	_ "github.com/procblocking/procblocking/plugins/outputs/telegram"
)

func main() {
	configFile := flag.String("config", "", "path to the plugin's configuration file (one [[outputs.telegram]] table)")
	retryEvery := flag.Duration("retry-interval", 10*time.Second, "how often undelivered events are tried again")
	flag.Parse()

	loaded, err := shim.LoadConfig(configFile)
	if err != nil || loaded.Output == nil {
		fmt.Fprintf(os.Stderr, "telegram-execd: loading config: %v\n", orNoOutput(err))
		os.Exit(1)
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
	defer out.Close()

	r := &relay{out: out, batchWait: 100 * time.Millisecond, retryEvery: *retryEvery, stderr: os.Stderr}
	r.run(os.Stdin)
}

func orNoOutput(err error) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("no [[outputs.telegram]] in the file")
}
