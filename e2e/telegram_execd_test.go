package e2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proctest"
	"github.com/procblocking/procblocking/internal/testkit/proxytest"
)

// execdShim is telegram-execd started as Telegraf's outputs.execd starts it,
// with a state directory given by its flag.
type execdShim struct {
	*proctest.Proc
	stdin io.WriteCloser
}

func startTelegramExecd(t *testing.T, token, conf, stateDir string) *execdShim {
	t.Helper()
	cmd := exec.Command(buildBinary(t, "telegram-execd"), "--config", conf, "--state-directory", stateDir)
	cmd.Env = append(os.Environ(), "E2E_EXECD_TOKEN="+token)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	return &execdShim{Proc: proctest.StartCmd(t, cmd), stdin: stdin}
}

func (s *execdShim) send(t *testing.T, lines ...string) {
	t.Helper()
	_, err := io.WriteString(s.stdin, strings.Join(lines, ""))
	require.NoError(t, err)
}

// alertLine is one event as alertstate emits it and outputs.execd writes it
// (a string field escapes only '"' and '\\'; newlines stay as they are).
func alertLine(kind, message, alertID string, at int64) string {
	message = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(message)
	return fmt.Sprintf("procblocking_alert,event=%s,host=h1,pattern=pytest,pid=4242 message=\"%s\",count=1i,alert_id=\"%s\" %d\n",
		kind, message, alertID, at)
}

// TestTelegramExecdQueueSurvivesSIGKILL: an alert delivered; Telegram
// answers 500; more events arrive; the shim is SIGKILLed; restarted with
// Telegram back, it delivers every event exactly once, and the realert and
// recovery still reply to their alert.
func TestTelegramExecdQueueSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	const token = "424242:execd-queue-token"
	tg := botapitest.New(t, token)
	dir := t.TempDir()
	conf := filepath.Join(dir, "telegram.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`[[outputs.telegram]]
  token = "${E2E_EXECD_TOKEN}"
  chat_id = "-100777"
  api_url = %q
  max_retry_wait = "1s"
`, tg.URL())), 0o600))
	state := filepath.Join(dir, "state")
	t0 := time.Now().UnixNano()

	shim := startTelegramExecd(t, token, conf, state)
	shim.send(t, alertLine("alert", "🚨 Blocking process pytest on h1\nPID 4242", "00000000000a4242", t0))
	proctest.WaitFor(t, 60*time.Second, "the alert", func() bool { return len(tg.Messages()) == 1 })

	tg.SetDefault(botapitest.Response{Status: 500, Description: "Internal Server Error"})
	shim.send(t,
		alertLine("realert", "🔁 Still blocking: pytest on h1\nPID 4242", "00000000000a4242", t0+1),
		alertLine("alert", "🚨 Blocking process pytest on h1\nPID 5151", "00000000000a5151", t0+2),
		alertLine("recovery", "✅ Blocking process pytest on h1 is gone\nPID 4242", "00000000000a4242", t0+3))
	// The sender tries an event only once it is queued on disk.
	proctest.WaitFor(t, 60*time.Second, "attempts during the outage", func() bool { return tg.Requests() >= 3 })
	shim.Kill(t)

	tg.SetDefault(botapitest.Response{})
	shim = startTelegramExecd(t, token, conf, state)
	proctest.WaitFor(t, 60*time.Second, "the queued events after the restart", func() bool { return len(tg.Messages()) >= 4 })
	require.NoError(t, shim.stdin.Close())
	require.NoError(t, shim.Wait(t, 60*time.Second), shim.Stderr.String())

	msgs := tg.Messages()
	var got []string
	for _, m := range msgs {
		got = append(got, botapitest.VisibleText(m.Text, m.ParseMode))
	}
	require.Equal(t, []string{
		"🚨 Blocking process pytest on h1\nPID 4242",
		"🔁 Still blocking: pytest on h1\nPID 4242",
		"🚨 Blocking process pytest on h1\nPID 5151",
		"✅ Blocking process pytest on h1 is gone\nPID 4242",
	}, got, "every event exactly once, in order")
	require.Equal(t, []int64{0, 1, 0, 1}, []int64{msgs[0].ReplyTo, msgs[1].ReplyTo, msgs[2].ReplyTo, msgs[3].ReplyTo},
		"threaded across the SIGKILL")
	require.Contains(t, shim.Stderr.String(), "Resuming the delivery of 3 event(s)")
	require.NotContains(t, shim.Stderr.String(), strings.SplitN(token, ":", 2)[1])
}

// TestTelegramExecdThroughProxy: the shim loads the same plugin, so the
// proxy and TLS options work through it: an HTTPS Bot API reached through a
// forward proxy that wants credentials, its certificate trusted via tls_ca.
func TestTelegramExecdThroughProxy(t *testing.T) {
	t.Parallel()
	const token = "434343:execd-proxy-token"
	tg := botapitest.NewTLS(t, token)
	proxy := proxytest.New(t, "alerts:s3cret")

	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(ca, certificatePEM(tg), 0o600))
	conf := filepath.Join(dir, "telegram.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`[[outputs.telegram]]
  token = "${E2E_EXECD_TOKEN}"
  chat_id = "4242"
  api_url = %q
  http_proxy_url = %q
  tls_ca = %q
`, tg.URL(), strings.Replace(proxy.URL, "http://", "http://alerts:s3cret@", 1), ca)), 0o600))

	shim := startTelegramExecd(t, token, conf, filepath.Join(dir, "state"))
	shim.send(t, alertLine("alert", "🚨 Blocking process pytest on h1\nPID 4242", "00000000000a4242", time.Now().UnixNano()))
	require.NoError(t, shim.stdin.Close())
	require.NoError(t, shim.Wait(t, 60*time.Second), shim.Stderr.String())
	require.Len(t, tg.Messages(), 1, shim.Stderr.String())
	require.Len(t, proxy.Tunnels(), 1)
	require.NotContains(t, shim.Stderr.String(), "s3cret")
}
