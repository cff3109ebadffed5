package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
)

// invalidOptionConfig is a whole, otherwise valid configuration with one
// plugin's table replaced: the agent must refuse all of it.
func invalidOptionConfig(dir, tgURL, input, processor, output string) string {
	if input == "" {
		input = "[[inputs.procblocking]]\n  patterns = [\"pytest\"]\n"
	}
	if processor == "" {
		processor = fmt.Sprintf("[[processors.alertstate]]\n  threshold = \"1s\"\n  cooldown = \"1s\"\n  state_file = %q\n",
			filepath.Join(dir, "alertstate.json"))
	}
	if output == "" {
		output = fmt.Sprintf("[[outputs.telegram]]\n  token = \"123:abc\"\n  chat_id = \"-1\"\n  api_url = %q\n", tgURL)
	}
	return fmt.Sprintf(`[agent]
  interval = "1s"
  flush_interval = "1s"
  statefile = %q
  skip_processors_after_aggregators = true

%s
%s
%s
[[outputs.file]]
  files = [%q]
  data_format = "influx"
`, filepath.Join(dir, "telegraf.state"), input, processor, output, filepath.Join(dir, "metrics.out"))
}

func TestEveryInvalidOptionStopsTheAgent(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t, "telegraf-procblocking")
	notProc := t.TempDir()

	in := func(opts string) string { return "[[inputs.procblocking]]\n" + opts }
	pr := func(opts string) string {
		return "[[processors.alertstate]]\n" + opts
	}
	out := func(opts string) string { return "[[outputs.telegram]]\n" + opts }
	const okIn = "  patterns = [\"pytest\"]\n"
	const okPr = "  threshold = \"1s\"\n  cooldown = \"1s\"\n"

	tests := []struct {
		name      string
		input     string
		processor string
		output    string // %s is the fake Bot API's URL
		// the option as the error names it: by its Go field when Telegraf's
		// decoder cannot set the value, by its name when the plugin refuses it
		want string
	}{
		{name: "patterns empty", input: in("  patterns = []\n"), want: "'patterns'"},
		{name: "patterns empty entry", input: in("  patterns = [\"pytest\", \"\"]\n"), want: "'patterns' \"\""},
		{name: "patterns bad regex", input: in("  patterns = [\"(\"]\n  pattern_type = \"regex\"\n"), want: "'patterns' \"(\""},
		{name: "pattern_type", input: in(okIn + "  pattern_type = \"glob\"\n"), want: "'pattern_type' \"glob\""},
		{name: "min_age", input: in(okIn + "  min_age = \"-1s\"\n"), want: "'min_age'"},
		{name: "cmdline_max_length", input: in(okIn + "  cmdline_max_length = 8\n"), want: "'cmdline_max_length' \"8\""},
		{name: "proc_root", input: in(okIn + fmt.Sprintf("  proc_root = %q\n", notProc)), want: "'proc_root'"},
		{name: "redact", input: in(okIn + "  redact = [\"[\"]\n"), want: "'redact' \"[\""},
		{name: "input unknown option", input: in(okIn + "  patern = \"pytest\"\n"), want: `"patern"`},
		{name: "min_age not a duration", input: in(okIn + "  min_age = \"abc\"\n"), want: `(procblocking.ProcBlocking.MinAge) time: invalid duration "abc"`},
		{name: "regex_max_bytes", input: in(okIn + "  regex_max_bytes = \"10B\"\n"), want: "'regex_max_bytes'"},
		{name: "named pattern without regex", input: in("  [[inputs.procblocking.pattern]]\n    name = \"pytest\"\n"), want: "'pattern' \"pytest\""},
		{name: "named pattern without name", input: in("  [[inputs.procblocking.pattern]]\n    regex = \"pytest\"\n"), want: "'pattern.name'"},

		{name: "threshold not a duration", processor: pr("  threshold = \"abc\"\n  cooldown = \"1s\"\n"), want: `(alertstate.AlertState.Threshold) time: invalid duration "abc"`},
		{name: "group_interval", processor: pr(okPr + "  group_interval = \"-1s\"\n"), want: "'group_interval' \"-1s\""},
		{name: "forget_after", processor: pr(okPr + "  forget_after = \"1m\"\n"), want: "'forget_after'"},
		{name: "threshold zero", processor: pr("  threshold = \"0s\"\n  cooldown = \"1s\"\n"), want: "'threshold'"},
		{name: "threshold negative", processor: pr("  threshold = \"-1m\"\n  cooldown = \"1s\"\n"), want: "'threshold'"},
		{name: "cooldown", processor: pr("  threshold = \"1s\"\n  cooldown = \"0s\"\n"), want: "'cooldown'"},
		{name: "language", processor: pr(okPr + "  language = \"fr\"\n"), want: "'language' \"fr\""},
		{name: "digest_after", processor: pr(okPr + "  digest_after = 0\n"), want: "'digest_after' \"0\""},
		{name: "failed_scans_before_alert", processor: pr(okPr + "  failed_scans_before_alert = 0\n"), want: "'failed_scans_before_alert'"},
		{name: "measurement", processor: pr(okPr + "  measurement = \"\"\n"), want: "'measurement'"},
		{name: "alert_measurement", processor: pr(okPr + "  alert_measurement = \"procblocking\"\n"), want: "'alert_measurement'"},
		{name: "templates syntax", processor: pr(okPr + "  [processors.alertstate.templates]\n    alert = \"{{ .PID \"\n"), want: "'templates.alert'"},
		{name: "templates key", processor: pr(okPr + "  [processors.alertstate.templates]\n    alarm = \"x\"\n"), want: "'templates' key \"alarm\""},
		{name: "state_file directory", processor: pr(okPr + fmt.Sprintf("  state_file = %q\n", notProc)), want: "'state_file'"},

		{name: "token empty", output: out("  token = \"\"\n  chat_id = \"-1\"\n  api_url = %q\n"), want: "'token'"},
		{name: "token shape", output: out("  token = \"not-a-token\"\n  chat_id = \"-1\"\n  api_url = %q\n"), want: "'token'"},
		{name: "chat_id empty", output: out("  token = \"123:abc\"\n  chat_id = \"\"\n  api_url = %q\n"), want: "'chat_id'"},
		{name: "chat_id", output: out("  token = \"123:abc\"\n  chat_id = \"my chat\"\n  api_url = %q\n"), want: "'chat_id' \"my chat\""},
		{name: "message_thread_id", output: out("  token = \"123:abc\"\n  chat_id = \"-1\"\n  message_thread_id = -5\n  api_url = %q\n"), want: "'message_thread_id'"},
		{name: "api_url scheme", output: out("  token = \"123:abc\"\n  chat_id = \"-1\"\n  api_url = \"ftp://example.org\"\n"), want: "'api_url' \"ftp://example.org\""},
		{name: "text_field", output: out("  token = \"123:abc\"\n  chat_id = \"-1\"\n  text_field = \"\"\n  api_url = %q\n"), want: "'text_field'"},
		{name: "timeout", output: out("  token = \"123:abc\"\n  chat_id = \"-1\"\n  timeout = \"0s\"\n  api_url = %q\n"), want: "'timeout'"},
		{name: "timeout not a duration", output: out("  token = \"123:abc\"\n  chat_id = \"-1\"\n  timeout = \"abc\"\n  api_url = %q\n"), want: `(telegram.Telegram.Timeout) time: invalid duration "abc"`},
		{name: "http_proxy_url", output: out("  token = \"123:abc\"\n  chat_id = \"-1\"\n  http_proxy_url = \"::bad\"\n  api_url = %q\n"), want: "'http_proxy_url'"},
		{name: "max_retry_wait", output: out("  token = \"123:abc\"\n  chat_id = \"-1\"\n  max_retry_wait = \"-1s\"\n  api_url = %q\n"), want: "'max_retry_wait'"},
		{name: "output language", output: out("  token = \"123:abc\"\n  chat_id = \"-1\"\n  buttons = true\n  language = \"de\"\n  api_url = %q\n"), want: "'language' \"de\""},
		{name: "telegram_actions allowed_users", input: "[[inputs.telegram_actions]]\n  token = \"123:abc\"\n  chat_id = \"-1\"\n  allowed_users = []\n", want: "'allowed_users' []"},
		{name: "telegram_actions poll_timeout", input: "[[inputs.telegram_actions]]\n  token = \"123:abc\"\n  chat_id = \"-1\"\n  allowed_users = [1]\n  poll_timeout = \"2m\"\n", want: "'poll_timeout' \"2m0s\""},
		{name: "telegram_actions chat_id", input: "[[inputs.telegram_actions]]\n  token = \"123:abc\"\n  chat_id = \"the chat\"\n  allowed_users = [1]\n", want: "'chat_id' \"the chat\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg := botapitest.New(t, "123:abc")
			dir := t.TempDir()
			output := tt.output
			if strings.Contains(output, "%q") {
				output = fmt.Sprintf(output, tg.URL())
			}
			conf := filepath.Join(dir, "bad.conf")
			require.NoError(t, os.WriteFile(conf, []byte(invalidOptionConfig(dir, tg.URL(), tt.input, tt.processor, output)), 0o600))

			p := proctest.Start(t, nil, bin, "--config", conf)
			err := p.Wait(t, 60*time.Second)
			stderr := p.Stderr.String()
			require.Error(t, err, "the agent started with an invalid option:\n%s", stderr)
			require.NotEqual(t, 0, exitCode(err))
			var last string
			for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
				if strings.Contains(line, " E! ") {
					last = line
				}
			}
			require.Contains(t, last, tt.want, stderr)
			require.Contains(t, last, conf, "the error names the file")
			require.NotContains(t, stderr, "123:abc", "the token is never printed")

			// Nothing half-started: no scan reached an output, no message
			// went out, no state was written.
			require.Zero(t, tg.Requests())
			_, err = os.Stat(filepath.Join(dir, "metrics.out"))
			if err == nil {
				data, rerr := os.ReadFile(filepath.Join(dir, "metrics.out"))
				require.NoError(t, rerr)
				require.Empty(t, data, "metrics were written before the agent gave up")
			}
			require.NotContains(t, stderr, "Starting service input")
			_, err = os.Stat(filepath.Join(dir, "telegraf.state"))
			require.ErrorIs(t, err, os.ErrNotExist, "Telegraf's statefile was written")
			_, err = os.Stat(filepath.Join(dir, "alertstate.json"))
			require.ErrorIs(t, err, os.ErrNotExist, "alertstate's state file was written")
		})
	}
}
