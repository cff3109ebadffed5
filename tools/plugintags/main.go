// Command plugintags prints the build tags that compile into
// telegraf-procblocking every upstream Telegraf plugin that the given
// configurations use, with the parsers and serializers of their data formats,
// so that the binary can replace a stock Telegraf running them:
//
//	go run ./tools/plugintags /etc/telegraf/telegraf.conf /etc/telegraf/telegraf.d
//
// prints e.g. "custom,inputs.cpu,inputs.mem,outputs.influxdb,serializers.influx".
// A directory stands for its *.conf files, as for Telegraf's
// --config-directory. `make build TELEGRAF_CONFIG="..."` runs it from the
// project's directory.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/procblocking/procblocking/tools/plugintags/catalog"
)

func main() {
	flag.Usage = func() {
		_, _ = fmt.Fprintln(flag.CommandLine.Output(), "Usage: plugintags CONFIG_FILE_OR_DIRECTORY...")
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	cat, err := catalog.Load()
	if err == nil {
		var tags []string
		if tags, err = cat.Tags(flag.Args()...); err == nil {
			fmt.Println(strings.Join(tags, ","))
			return
		}
	}
	fmt.Fprintf(os.Stderr, "plugintags: %v\n", err)
	os.Exit(1)
}
