// Package fleet holds the configurations of a fleet (node.conf on every
// node, alerter.conf on the one alerter, influxdb.conf added to either) and
// their tests: each loads in Telegraf's own loader with its environment, and
// the data format the nodes publish in carries every metric unchanged. The
// end-to-end fleet test (e2e/fleet_test.go) runs them in the real binary.
package fleet

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/influxdata/telegraf/plugins/inputs/nats_consumer"
	"github.com/influxdata/telegraf/plugins/outputs/influxdb"
	"github.com/influxdata/telegraf/plugins/outputs/nats"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	serializer "github.com/influxdata/telegraf/plugins/serializers/influx"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/plugins/inputs/procblocking"
	"github.com/procblocking/procblocking/plugins/outputs/telegram"
	_ "github.com/procblocking/procblocking/plugins/processors/alertstate"
)

// load loads one of the shipped files with Telegraf's loader. The state
// directory is a temp dir: loading creates the disk buffer's directory.
func load(t *testing.T, files ...string) *config.Config {
	t.Helper()
	t.Setenv("PROCBLOCKING_STATE_DIR", t.TempDir())
	c := config.NewConfig()
	for _, f := range files {
		require.NoError(t, c.LoadConfig(f), f)
	}
	return c
}

func procRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", "testdata", "proc_basic"))
	require.NoError(t, err)
	return root
}

func TestNodeConf(t *testing.T) {
	t.Setenv("NATS_URL", "nats://nats.example:4222")
	t.Setenv("HOST_PROC", procRoot(t))

	t.Run("NODE_NAME names the node", func(t *testing.T) {
		t.Setenv("NODE_NAME", "runner-7")
		c := load(t, "node.conf")
		require.Equal(t, "runner-7", c.Agent.Hostname)
		require.False(t, c.Agent.OmitHostname)
	})
	t.Run("without NODE_NAME the host's name", func(t *testing.T) {
		require.NoError(t, os.Unsetenv("NODE_NAME"))
		own, err := os.Hostname()
		require.NoError(t, err)
		c := load(t, "node.conf")
		require.Equal(t, own, c.Agent.Hostname)
	})

	t.Setenv("NODE_NAME", "runner-7")
	c := load(t, "node.conf")
	require.Equal(t, "disk", c.Agent.BufferStrategy)
	require.Len(t, c.Inputs, 1)
	_, ok := c.Inputs[0].Input.(*procblocking.ProcBlocking)
	require.True(t, ok)
	require.Empty(t, c.Processors, "the node decides nothing: the alerter does")
	require.Len(t, c.Outputs, 1, "no Telegram on a node")
	out, ok := c.Outputs[0].Output.(*nats.NATS)
	require.True(t, ok)
	require.Equal(t, []string{"nats://nats.example:4222"}, out.Servers)
	require.Equal(t, "procblocking", out.Subject)
	require.True(t, out.UseBatchFormat)
	require.NotNil(t, out.Jetstream)
	require.Equal(t, "PROCBLOCKING", out.Jetstream.Name)
	require.Equal(t, "workqueue", out.Jetstream.Retention)
	require.Equal(t, "file", out.Jetstream.Storage)
	require.Equal(t, config.Duration(24*time.Hour), out.Jetstream.MaxAge)
	require.Equal(t, []string{"procblocking", "procblocking_scan"}, c.Outputs[0].Config.Filter.NamePass)
}

func TestAlerterConf(t *testing.T) {
	t.Setenv("NATS_URL", "nats://nats.example:4222")
	t.Setenv("TELEGRAM_BOT_TOKEN", "123456:ABCdef")
	t.Setenv("TELEGRAM_CHAT_ID", "-100123456789")

	t.Run("Telegram's API by default", func(t *testing.T) {
		require.NoError(t, os.Unsetenv("TELEGRAM_API_URL"))
		c := load(t, "alerter.conf")
		tg := telegramOf(t, c)
		require.Equal(t, "https://api.telegram.org", tg.APIURL)
	})

	t.Setenv("TELEGRAM_API_URL", "http://bot-api.example:8081")
	c := load(t, "alerter.conf")
	require.Equal(t, "http://bot-api.example:8081", telegramOf(t, c).APIURL)

	// The alerter adds no host tag of its own: each metric keeps its node's.
	require.True(t, c.Agent.OmitHostname)
	require.NotContains(t, c.Tags, "host")
	require.Equal(t, "disk", c.Agent.BufferStrategy)

	require.Len(t, c.Inputs, 1)
	in, ok := c.Inputs[0].Input.(*nats_consumer.NatsConsumer)
	require.True(t, ok)
	require.Equal(t, []string{"nats://nats.example:4222"}, in.Servers)
	require.Empty(t, in.Subjects, "JetStream only, no core NATS subscription")
	require.Equal(t, []string{"procblocking"}, in.JsSubjects)
	require.Equal(t, "PROCBLOCKING", in.JsStream)
	require.Equal(t, "procblocking-alerter", in.QueueGroup, "the durable consumer's name")
	require.Equal(t, []string{"subject"}, c.Inputs[0].Config.Filter.TagExclude)

	require.Len(t, c.Processors, 1)
	require.Equal(t, "alertstate", c.Processors[0].Config.Name)
}

func telegramOf(t *testing.T, c *config.Config) *telegram.Telegram {
	t.Helper()
	require.Len(t, c.Outputs, 1)
	tg, ok := c.Outputs[0].Output.(*telegram.Telegram)
	require.True(t, ok)
	return tg
}

// TestInfluxDBConfAddsToEither: influxdb.conf loads after node.conf and
// after alerter.conf, as a second --config.
func TestInfluxDBConfAddsToEither(t *testing.T) {
	for _, env := range []string{"NATS_URL", "NODE_NAME", "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID"} {
		t.Setenv(env, "x")
	}
	t.Setenv("HOST_PROC", procRoot(t))
	t.Setenv("INFLUXDB_URL", "http://influxdb.example:8086")
	for _, main := range []string{"node.conf", "alerter.conf"} {
		c := load(t, main, "influxdb.conf")
		var found bool
		for _, o := range c.Outputs {
			if db, ok := o.Output.(*influxdb.InfluxDB); ok {
				found = true
				require.Equal(t, []string{"http://influxdb.example:8086"}, db.URLs)
			}
		}
		require.True(t, found, main)
	}
}

// TestLineProtocolCarriesEveryMetric: what a node gathers reaches the
// alerter's parser unchanged, every tag and every field with its type
// (created_at and job_pid integers, age_seconds a float, orphan a boolean),
// in the batch format node.conf publishes. JSON would turn the integers
// into floats and needs every tag and string field named.
func TestLineProtocolCarriesEveryMetric(t *testing.T) {
	in, ok := inputs.Inputs["procblocking"]().(*procblocking.ProcBlocking)
	require.True(t, ok)
	in.ProcRoot = procRoot(t)
	in.Log = testutil.Logger{}
	require.NoError(t, in.Init())
	var acc testutil.Accumulator
	require.NoError(t, in.Gather(&acc))
	gathered := acc.GetTelegrafMetrics()
	for _, m := range gathered {
		m.AddTag("host", "runner-7")
	}
	require.Greater(t, len(gathered), 2, "processes and the scan")

	s := &serializer.Serializer{}
	require.NoError(t, s.Init())
	data, err := s.SerializeBatch(gathered)
	require.NoError(t, err)
	p := &influx.Parser{}
	require.NoError(t, p.Init())
	parsed, err := p.Parse(data)
	require.NoError(t, err)
	testutil.RequireMetricsEqual(t, gathered, parsed)
}
