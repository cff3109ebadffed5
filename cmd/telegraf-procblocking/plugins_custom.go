//go:build custom

package main

// Upstream plugins chosen by build tag, through Telegraf's own mechanism: each
// file of plugins/<type>/all registers one plugin behind the constraint
// `!custom || <type> || <type>.<name>`. With the `custom` tag only the
// plugins whose tags are also given are compiled in: `make build
// TELEGRAF_CONFIG=...` passes the tags a configuration needs, `make
// build-full` every type. Without the `custom` tag this file is left out and
// the binary has the default set of plugins.go alone.
import (
	_ "github.com/influxdata/telegraf/plugins/aggregators/all"
	_ "github.com/influxdata/telegraf/plugins/inputs/all"
	_ "github.com/influxdata/telegraf/plugins/outputs/all"
	_ "github.com/influxdata/telegraf/plugins/parsers/all"
	_ "github.com/influxdata/telegraf/plugins/processors/all"
	_ "github.com/influxdata/telegraf/plugins/secretstores/all"
	_ "github.com/influxdata/telegraf/plugins/serializers/all"
)
