// Command telegram-execd runs the outputs.telegram plugin under an unmodified
// Telegraf through the execd shim.
//
// Telegraf's outputs.execd writes line protocol to its stdin; the alert
// events among them are sent to Telegram.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/influxdata/telegraf/plugins/common/shim"

	_ "github.com/procblocking/procblocking/plugins/outputs/telegram"
)

func main() {
	configFile := flag.String("config", "", "path to the plugin's configuration file (one [[outputs.telegram]] table)")
	flag.Parse()

	s := shim.New()
	if err := s.LoadConfig(configFile); err != nil {
		fmt.Fprintf(os.Stderr, "telegram-execd: loading config: %v\n", err)
		os.Exit(1)
	}
	if err := s.Run(shim.PollIntervalDisabled); err != nil {
		fmt.Fprintf(os.Stderr, "telegram-execd: %v\n", err)
		os.Exit(1)
	}
}
