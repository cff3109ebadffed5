package main

// The upstream plugins these deployments use, imported one by one: an `all`
// import would compile in several hundred plugins nobody here runs. This is
// the whole set of a build without tags (`make build`, `go build`, `go test`);
// plugins_custom.go adds those a Telegraf configuration needs by build tag.
import (
	// Every aggregator but starlark (a script interpreter; a custom build
	// adds it): a Telegraf configuration this binary replaces may use any.
	_ "github.com/influxdata/telegraf/plugins/aggregators/basicstats"
	_ "github.com/influxdata/telegraf/plugins/aggregators/derivative"
	_ "github.com/influxdata/telegraf/plugins/aggregators/final"
	_ "github.com/influxdata/telegraf/plugins/aggregators/histogram"
	_ "github.com/influxdata/telegraf/plugins/aggregators/merge"
	_ "github.com/influxdata/telegraf/plugins/aggregators/minmax"
	_ "github.com/influxdata/telegraf/plugins/aggregators/quantile"
	_ "github.com/influxdata/telegraf/plugins/aggregators/valuecounter"

	_ "github.com/influxdata/telegraf/plugins/inputs/nats_consumer"
	_ "github.com/influxdata/telegraf/plugins/outputs/discard"
	_ "github.com/influxdata/telegraf/plugins/outputs/file"
	_ "github.com/influxdata/telegraf/plugins/outputs/http"
	_ "github.com/influxdata/telegraf/plugins/outputs/influxdb"
	_ "github.com/influxdata/telegraf/plugins/outputs/influxdb_v2"
	_ "github.com/influxdata/telegraf/plugins/outputs/nats"
	// The format the fleet's nodes publish in and its alerter reads.
	_ "github.com/influxdata/telegraf/plugins/parsers/influx"
	_ "github.com/influxdata/telegraf/plugins/secretstores/docker"
	_ "github.com/influxdata/telegraf/plugins/secretstores/os"
	_ "github.com/influxdata/telegraf/plugins/serializers/influx"
	_ "github.com/influxdata/telegraf/plugins/serializers/json"
	_ "github.com/influxdata/telegraf/plugins/serializers/template"

	// This project's plugins.
	_ "github.com/procblocking/procblocking/plugins/inputs/procblocking"
	_ "github.com/procblocking/procblocking/plugins/inputs/telegram_actions"
	_ "github.com/procblocking/procblocking/plugins/outputs/telegram"
	_ "github.com/procblocking/procblocking/plugins/processors/alertstate"
)
