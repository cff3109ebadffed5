// Command procblocking-execd runs the inputs.procblocking plugin under an unmodified
// Telegraf through the execd shim.
//
// Telegraf's inputs.execd runs it with signal = "STDIN": every newline on
// stdin triggers one scan, whose metrics are written to stdout as line protocol.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/influxdata/telegraf/plugins/common/shim"

	_ "github.com/procblocking/procblocking/plugins/inputs/procblocking"
)

func main() {
	configFile := flag.String("config", "", "path to the plugin's configuration file (one [[inputs.procblocking]] table)")
	pollInterval := flag.Duration("poll_interval", 0, "gather on this interval as well as on each line of stdin (0: only on stdin)")
	flag.Parse()

	interval := *pollInterval
	if interval <= 0 {
		interval = shim.PollIntervalDisabled
	}
	s := shim.New()
	if err := s.LoadConfig(configFile); err != nil {
		fmt.Fprintf(os.Stderr, "procblocking-execd: loading config: %v\n", err)
		os.Exit(1)
	}
	if err := s.Run(interval); err != nil {
		fmt.Fprintf(os.Stderr, "procblocking-execd: %v\n", err)
		os.Exit(1)
	}
}
