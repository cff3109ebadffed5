package catalog

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"
)

var (
	catalogOnce sync.Once
	catalog     *Catalog
	catalogErr  error
)

// realCatalog is the catalog of the Telegraf version in go.mod and of this
// project's plugins, read once for the package.
func realCatalog(t *testing.T) *Catalog {
	t.Helper()
	catalogOnce.Do(func() { catalog, catalogErr = Load() })
	require.NoError(t, catalogErr)
	return catalog
}

// telegrafVersion is the Telegraf version go.mod requires, which the errors name.
func telegrafVersion(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", telegrafModule).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

func writeConf(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

func TestTagsOfAStockConfig(t *testing.T) {
	conf := writeConf(t, t.TempDir(), "telegraf.conf", `
[agent]
  interval = "10s"
  hostname = "${HOSTNAME}"

[[inputs.cpu]]
  percpu = true
[[inputs.cpu]]
  percpu = false
[[inputs.mem]]
[[inputs.system]]
[[inputs.procstat]]
  pattern = "nginx"
[[processors.rename]]
  [[processors.rename.replace]]
    measurement = "mem"
    dest = "memory"
[[aggregators.minmax]]
  period = "30s"
[[outputs.file]]
  files = ["stdout"]
[[outputs.influxdb]]
  urls = ["http://127.0.0.1:8086"]
`)
	tags, err := realCatalog(t).Tags(conf)
	require.NoError(t, err)
	require.Equal(t, []string{
		"custom",
		"aggregators.minmax",
		"inputs.cpu", "inputs.mem", "inputs.procstat", "inputs.system",
		"outputs.file", "outputs.influxdb",
		"processors.rename",
		"serializers.influx", // outputs.file's default data format
	}, tags)
}

func TestTagsOfEachKindOfPlugin(t *testing.T) {
	tests := []struct {
		name string
		conf string
		want []string
	}{
		{"this project's plugins need no tag",
			"[[inputs.procblocking]]\n[[processors.alertstate]]\n[[outputs.telegram]]\n  token = \"x\"\n",
			nil},
		{"an input's default data format",
			"[[inputs.exec]]\n  commands = [\"true\"]\n",
			[]string{"inputs.exec", "parsers.json"}},
		{"an input's data format",
			"[[inputs.file]]\n  files = [\"x\"]\n  data_format = \"csv\"\n",
			[]string{"inputs.file", "parsers.csv"}},
		{"a parser registering several formats",
			"[[inputs.file]]\n  files = [\"x\"]\n  data_format = \"xpath_json\"\n",
			[]string{"inputs.file", "parsers.xpath"}},
		{"the upstream influx parser",
			"[[inputs.execd]]\n  command = [\"x\"]\n  data_format = \"influx_upstream\"\n",
			[]string{"inputs.execd", "parsers.influx"}},
		{"processors.parser",
			"[[processors.parser]]\n  parse_fields = [\"message\"]\n  data_format = \"logfmt\"\n",
			[]string{"parsers.logfmt", "processors.parser"}},
		{"processors.execd parses and serializes",
			"[[processors.execd]]\n  command = [\"x\"]\n",
			[]string{"parsers.influx", "processors.execd", "serializers.influx"}},
		{"an output's data format",
			"[[outputs.file]]\n  data_format = \"json\"\n",
			[]string{"outputs.file", "serializers.json"}},
		{"outputs.execd's default",
			"[[outputs.execd]]\n  command = [\"x\"]\n",
			[]string{"outputs.execd", "serializers.influx"}},
		{"an output without data format",
			"[[outputs.discard]]\n",
			[]string{"outputs.discard"}},
		{"a secret store",
			"[[secretstores.os]]\n  id = \"keyring\"\n",
			[]string{"secretstores.os"}},
		{"an aggregator",
			"[[aggregators.basicstats]]\n",
			[]string{"aggregators.basicstats"}},
		{"a single table",
			"[inputs.kernel]\n",
			[]string{"inputs.kernel"}},
		// synproxy's non-Linux stub registers "slab": the platform's files decide.
		{"the platform's registration",
			"[[inputs.slab]]\n[[inputs.synproxy]]\n",
			[]string{"inputs.slab", "inputs.synproxy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := writeConf(t, t.TempDir(), "test.conf", tt.conf)
			tags, err := realCatalog(t).Tags(conf)
			require.NoError(t, err)
			require.Equal(t, append([]string{"custom"}, tt.want...), tags)
		})
	}
}

func TestUnknownNamesAreErrorsNamingThemAndTheFile(t *testing.T) {
	telegraf := "Telegraf " + telegrafVersion(t)
	tests := []struct {
		name string
		conf string
		want string
	}{
		{"plugin", "[agent]\n  interval = \"10s\"\n\n[[inputs.cpux]]\n",
			`:4: unknown plugin [[inputs.cpux]]: ` + telegraf + ` has no such plugin, nor has this project`},
		{"plugin type", "[[outputs.file]]\n[[inputs.procblocking]]\n[[processors.telegram]]\n",
			`:3: unknown plugin [[processors.telegram]]`},
		{"input data format", "[[inputs.file]]\n  files = [\"x\"]\n  data_format = \"nope\"\n",
			`:1: invalid 'data_format' "nope" in [[inputs.file]]: ` + telegraf + ` has no such parser`},
		{"output data format", "[[outputs.file]]\n  data_format = \"xml\"\n",
			`:1: invalid 'data_format' "xml" in [[outputs.file]]: ` + telegraf + ` has no such serializer`},
		{"data format not a string", "[[outputs.file]]\n  data_format = 1\n",
			`invalid 'data_format' 1 in [[outputs.file]]: must be a string`},
		{"TOML syntax", "[[inputs.cpu]\n", "test.conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := writeConf(t, t.TempDir(), "test.conf", tt.conf)
			_, err := realCatalog(t).Tags(conf)
			require.ErrorContains(t, err, conf)
			require.ErrorContains(t, err, tt.want)
		})
	}

	_, err := realCatalog(t).Tags(filepath.Join(t.TempDir(), "missing.conf"))
	require.ErrorContains(t, err, "missing.conf")
	empty := t.TempDir()
	_, err = realCatalog(t).Tags(empty)
	require.ErrorContains(t, err, `no *.conf file in configuration directory "`+empty+`"`)
	_, err = realCatalog(t).Tags()
	require.ErrorContains(t, err, "no configuration given")
}

func TestDirectoryIsLoadedAsTelegrafLoadsIt(t *testing.T) {
	dir := t.TempDir()
	writeConf(t, dir, "10-inputs.conf", "[[inputs.cpu]]\n")
	writeConf(t, dir, "sub/20-outputs.conf", "[[outputs.influxdb]]\n")
	writeConf(t, dir, "..data/ignored.conf", "[[inputs.not_loaded]]\n")
	writeConf(t, dir, "notes.txt", "[[inputs.not_loaded]]\n")
	writeConf(t, dir, "procblocking.conf.disabled", "[[inputs.not_loaded]]\n")
	other := writeConf(t, t.TempDir(), "agent.conf", "[[inputs.mem]]\n")

	files, err := configFiles([]string{other, dir})
	require.NoError(t, err)
	walked, err := config.WalkDirectory(dir)
	require.NoError(t, err)
	require.Equal(t, append([]string{other}, walked...), files)

	tags, err := realCatalog(t).Tags(other, dir)
	require.NoError(t, err)
	require.Equal(t, []string{"custom", "inputs.cpu", "inputs.mem", "outputs.influxdb"}, tags)
}

func TestCatalogHasEveryUpstreamPlugin(t *testing.T) {
	c := realCatalog(t)
	tags := map[string]bool{}
	for _, tag := range c.tag {
		tags[tag] = true
	}
	dir, err := telegrafSource()
	require.NoError(t, err)
	for _, category := range categories {
		files, err := filepath.Glob(filepath.Join(dir, "plugins", category, "all", "*.go"))
		require.NoError(t, err)
		for _, f := range files {
			if name := strings.TrimSuffix(filepath.Base(f), ".go"); name != "all" && !strings.HasSuffix(name, "_test") {
				// The file's name is its tag's, bar a few (processors.go selects timestamp).
				data, err := os.ReadFile(f)
				require.NoError(t, err)
				line, _, _ := strings.Cut(string(data), "\n")
				tag := line[strings.LastIndex(line, " ")+1:]
				require.True(t, tags[tag], "%s (%s) selects no plugin of the catalog", tag, f)
			}
		}
	}
	require.Equal(t, "inputs.cpu", c.tag["inputs.cpu"])
	require.Equal(t, "parsers.influx", c.tag["parsers.influx_upstream"])
	for _, own := range []string{"inputs.procblocking", "processors.alertstate", "outputs.telegram"} {
		tag, ok := c.tag[own]
		require.True(t, ok, own)
		require.Empty(t, tag, own)
	}
}
