//go:build !linux

package procblocking

import (
	_ "embed"
	"errors"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/inputs"
)

//go:embed sample.conf
var sampleConfig string

// ProcBlocking reads /proc, which only Linux has; elsewhere it refuses to start.
type ProcBlocking struct {
	Patterns         []string        `toml:"patterns"`
	PatternType      string          `toml:"pattern_type"`
	ProcRoot         string          `toml:"proc_root"`
	MinAge           config.Duration `toml:"min_age"`
	CmdlineMaxLength int             `toml:"cmdline_max_length"`
	Redact           []string        `toml:"redact"`

	Log telegraf.Logger `toml:"-"`
}

func (*ProcBlocking) SampleConfig() string { return sampleConfig }

func (*ProcBlocking) Init() error {
	return errors.New("the procblocking input runs only on Linux: it reads /proc")
}

func (*ProcBlocking) Gather(telegraf.Accumulator) error { return nil }

func init() {
	inputs.Add("procblocking", func() telegraf.Input { return &ProcBlocking{} })
}
