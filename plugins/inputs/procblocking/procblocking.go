//go:generate go tool readme_config_includer
package procblocking

import (
	_ "embed"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/inputs"
)

//go:embed sample.conf
var sampleConfig string

// ProcBlocking reports processes whose command line matches patterns, with
// what is needed to tell a stuck or orphaned one from a healthy one.
type ProcBlocking struct {
	Patterns         []string        `toml:"patterns"`
	PatternType      string          `toml:"pattern_type"`
	Pattern          []namedPattern  `toml:"pattern"`
	ProcRoot         string          `toml:"proc_root"`
	MinAge           config.Duration `toml:"min_age"`
	CmdlineMaxLength int             `toml:"cmdline_max_length"`
	RegexMaxBytes    config.Size     `toml:"regex_max_bytes"`
	Redact           []string        `toml:"redact"`

	Log telegraf.Logger `toml:"-"`

	state runState
}

// namedPattern is one [[inputs.procblocking.pattern]] table: a pattern whose
// name, not its text, goes into the pattern tag.
type namedPattern struct {
	Name      string `toml:"name"`
	Regex     string `toml:"regex"`
	Substring string `toml:"substring"`
}

// pytestRegex matches pytest however it is started: the pytest, pytest-3 or
// py.test script, run directly or through a Python interpreter (which is how
// the kernel runs a script with a #! line), or as `python -m pytest`, with
// interpreter options before -m. Anchored on the program, it does not match
// `grep pytest`, an editor open on test_pytest.py or a config file named
// after pytest.
const pytestRegex = `^(\S*/)?(py\.?test(-3)?|(python|pypy)[0-9.]*(\s+-[WX]\s*\S+|\s+-\S+)*\s+(-m\s*py\.?test|\S*/py\.?test(-3)?))(\s|$)`

// defaultPatterns is what the plugin watches when the config names no
// pattern: neither 'patterns' nor a [[inputs.procblocking.pattern]] table.
func defaultPatterns() []namedPattern {
	return []namedPattern{{Name: "pytest", Regex: pytestRegex}}
}

func (*ProcBlocking) SampleConfig() string {
	return sampleConfig
}

func init() {
	inputs.Add("procblocking", func() telegraf.Input {
		return &ProcBlocking{
			PatternType:      "substring",
			CmdlineMaxLength: 512,
			RegexMaxBytes:    4096,
		}
	})
}
