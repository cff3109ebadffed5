package tomloption

import (
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/toml"
	"github.com/stretchr/testify/require"
)

type plugin struct {
	Threshold config.Duration `toml:"threshold"`
	Count     int             `toml:"count"`
}

func (p *plugin) UnmarshalTOML(decode func(interface{}) error) error {
	type options plugin
	return Decode(decode, (*options)(p))
}

func unmarshal(t *testing.T, text string, p *plugin) error {
	t.Helper()
	tbl, err := toml.Parse([]byte(text))
	require.NoError(t, err)
	return toml.UnmarshalTable(tbl, p)
}

func TestDecodeNamesTheOption(t *testing.T) {
	p := &plugin{Count: 7}
	err := unmarshal(t, "count = 3\nthreshold = \"abc\"\n", p)
	require.EqualError(t, err, `line 2: invalid 'threshold' "abc": time: invalid duration "abc"`)

	err = unmarshal(t, "count = \"many\"\n", &plugin{})
	require.ErrorContains(t, err, `line 1: invalid 'count' "many"`)
	require.NotContains(t, err.Error(), "tomloption.plugin")
}

func TestDecodeKeepsDefaultsAndValues(t *testing.T) {
	p := &plugin{Count: 7}
	require.NoError(t, unmarshal(t, "threshold = \"2m\"\n", p))
	require.Equal(t, config.Duration(2*time.Minute), p.Threshold)
	require.Equal(t, 7, p.Count, "an option not written keeps its default")
}
