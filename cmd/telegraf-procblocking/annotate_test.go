package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"
)

// TestAnnotateRealErrors drives real Init and Connect failures of real
// plugins through the binary and checks that the error names the file and
// line of the failing plugin's table. annotate recognises the plugin in
// Telegraf's error text: when a Telegraf upgrade changes that text, this
// test shows it.
func TestAnnotateRealErrors(t *testing.T) {
	const agent = "[agent]\n  interval = \"1s\"\n  omit_hostname = true\n\n"
	const okInput = "[[inputs.procblocking]]\n  patterns = [\"no-process-has-this-marker-0x12\"]\n\n"
	tests := []struct {
		name  string
		files map[string]string // relative name → content; "main.conf" via --config, "d/*" via --config-directory
		file  string            // the file the error must name
		line  int               // and the line; 0 for none
		want  string            // Telegraf's own words, kept in the error
	}{
		{
			name: "input Init",
			files: map[string]string{"main.conf": agent +
				"[[inputs.procblocking]]\n  patterns = [\"pytest\"]\n  pattern_type = \"glob\"\n\n[[outputs.discard]]\n"},
			file: "main.conf", line: 5, want: "could not initialize input inputs.procblocking",
		},
		{
			// Telegraf's error does not say which of the two failed.
			name: "one of two tables of a plugin",
			files: map[string]string{"main.conf": agent + okInput +
				"[[inputs.procblocking]]\n  patterns = [\"pytest\"]\n  pattern_type = \"glob\"\n\n[[outputs.discard]]\n"},
			file: "main.conf", want: "could not initialize input inputs.procblocking",
		},
		{
			name: "aliased input Init",
			files: map[string]string{"main.conf": agent +
				"[[inputs.procblocking]]\n  alias = \"broken\"\n  patterns = []\n\n" + okInput + "[[outputs.discard]]\n"},
			file: "main.conf", line: 5, want: "could not initialize input inputs.procblocking::broken",
		},
		{
			name: "processor Init in a config directory",
			files: map[string]string{
				"main.conf":       agent + okInput + "[[outputs.discard]]\n",
				"d/10-state.conf": "# alert state\n\n[[processors.alertstate]] # the only one\n  threshold = \"0s\"\n",
			},
			file: "d/10-state.conf", line: 3, want: "could not initialize processor processors.alertstate",
		},
		{
			name: "output Init",
			files: map[string]string{"main.conf": agent + okInput +
				"[[outputs.discard]]\n\n[[ outputs.telegram ]]\n  token = \"\"\n  chat_id = \"-1\"\n"},
			file: "main.conf", line: 10, want: "could not initialize output outputs.telegram",
		},
		{
			name: "the same plugin in two files: no guess",
			files: map[string]string{
				"main.conf":    agent + okInput + "[[outputs.discard]]\n",
				"d/input.conf": "[[inputs.procblocking]]\n  patterns = []\n",
			},
			want: "could not initialize input inputs.procblocking",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"--config", filepath.Join(dir, "main.conf")}
			for name, content := range tt.files {
				path := filepath.Join(dir, name)
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
				require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
				if strings.HasPrefix(name, "d/") && !strings.Contains(strings.Join(args, " "), "--config-directory") {
					args = append(args, "--config-directory", filepath.Join(dir, "d"))
				}
			}
			out, err := exec.Command(binPath, args...).CombinedOutput()
			var exitErr *exec.ExitError
			require.ErrorAs(t, err, &exitErr, string(out))
			var last string
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if strings.Contains(l, " E! ") {
					last = l
				}
			}
			_, msg, ok := strings.Cut(last, " E! ")
			require.True(t, ok, string(out))
			switch {
			case tt.line > 0:
				require.True(t, strings.HasPrefix(msg, fmt.Sprintf("%s:%d: ", filepath.Join(dir, tt.file), tt.line)), msg)
			case tt.file != "":
				require.True(t, strings.HasPrefix(msg, filepath.Join(dir, tt.file)+": "), msg)
			default:
				require.NotContains(t, msg, dir, "named a file it could not know")
			}
			require.Contains(t, msg, tt.want, "Telegraf's wording changed: check annotate")
		})
	}
}

// Telegraf retries a failed Connect once, 15 s later, unless the agent is
// stopping: with a stopped context the real error comes at once.
func TestAnnotateRealConnectError(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "main.conf")
	require.NoError(t, os.WriteFile(conf, []byte("[agent]\n  omit_hostname = true\n\n"+
		"[[inputs.procblocking]]\n  patterns = [\"no-process-has-this-marker-0x13\"]\n\n"+
		"[[outputs.file]]\n  files = [\"/nonexistent-dir-0x13/out\"]\n"), 0o600))
	o := &options{configs: stringList{conf}}
	l, err := loadConfig(o)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = annotate(runAgent(ctx, o, l), l.config)
	require.ErrorContains(t, err, conf+":7: connecting output outputs.file: ", "Telegraf's wording changed: check annotate")
}

func TestAnnotateNamesTheWholePlugin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.conf")
	require.NoError(t, os.WriteFile(path, []byte(
		"[[outputs.file]]\n  alias = \"a\"\n[[outputs.file]]\n[[outputs.file]]\n  alias = \"a_b\"\n[[outputs.discard]]\n"), 0o600))
	c := config.NewConfig()
	require.NoError(t, c.LoadConfig(path))
	tests := []struct {
		err  string
		want string
	}{
		{"could not initialize output outputs.file::a_b: bad", path + ":4: "},
		{"could not initialize output outputs.file::a: bad", path + ":1: "},
		{"could not initialize output outputs.file: bad", path + ":3: "},
		{`connecting output outputs.discard: error connecting to output "outputs.discard": bad`, path + ":6: "},
		{"could not initialize output outputs.filex: bad", ""},
		{"something else entirely", ""},
	}
	for _, tt := range tests {
		got := annotate(errors.New(tt.err), c).Error()
		require.Equal(t, tt.want+tt.err, got)
	}
}
