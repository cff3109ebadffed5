// Command alertstate-execd runs the processors.alertstate plugin under an unmodified
// Telegraf through the execd shim.
//
// Telegraf's processors.execd feeds it line protocol on stdin and reads the
// metrics, with the alert events added, from stdout. The alert state
// survives restarts in alertstate's state file, as under the custom binary.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/influxdata/telegraf/plugins/common/shim"

	_ "github.com/procblocking/procblocking/plugins/processors/alertstate"
)

func main() {
	configFile := flag.String("config", "", "path to the plugin's configuration file (one [[processors.alertstate]] table)")
	flag.Parse()

	s := shim.New()
	if err := s.LoadConfig(configFile); err != nil {
		fmt.Fprintf(os.Stderr, "alertstate-execd: loading config: %v\n", err)
		os.Exit(1)
	}
	if err := s.Run(shim.PollIntervalDisabled); err != nil {
		fmt.Fprintf(os.Stderr, "alertstate-execd: %v\n", err)
		os.Exit(1)
	}
}
