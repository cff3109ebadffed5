package telegram

import (
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proxytest"
)

// caFile writes the certificate of a TLS test server as a PEM file.
func caFile(t *testing.T, srv *botapitest.Server) string {
	path := filepath.Join(t.TempDir(), "ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// Through a forward proxy (http_proxy_url, with credentials) to a Bot API
// over HTTPS whose certificate is trusted through tls_ca.
func TestThroughProxyWithTLS(t *testing.T) {
	api := botapitest.NewTLS(t, testToken)
	proxy := proxytest.New(t, "alerts:hunter2")
	p := newPlugin(t, api.URL(), func(p *Telegram) {
		p.HTTPProxyURL = strings.Replace(proxy.URL, "http://", "http://alerts:hunter2@", 1)
		p.TLSCA = caFile(t, api)
	})
	queueWrite(t, p, batch(2))
	require.Equal(t, alertTexts(1, 2), texts(waitMessages(t, api, 2)))
	tunnels := proxy.Tunnels()
	require.NotEmpty(t, tunnels)
	for _, target := range tunnels {
		require.Equal(t, strings.TrimPrefix(api.URL(), "https://"), target)
	}
	for _, line := range proxy.Seen() {
		require.NotContains(t, line, testToken, "the proxy sees only the host: the path is inside TLS")
	}
}

// TLS is verified: without tls_ca the test server's certificate is refused,
// and the events wait; insecure_skip_verify accepts it.
func TestTLSVerified(t *testing.T) {
	api := botapitest.NewTLS(t, testToken)
	p := newPlugin(t, api.URL(), func(p *Telegram) { p.CloseTimeout = 0 })
	queueWrite(t, p, batch(1))
	require.Eventually(t, func() bool { return p.log.count("E!", "Cannot deliver", "certificate") == 1 }, 30*time.Second, 5*time.Millisecond)
	require.Empty(t, api.Messages())
	require.NoError(t, p.Close())

	insecure := newPlugin(t, api.URL(), func(p *Telegram) { p.InsecureSkipVerify = true })
	queueWrite(t, insecure, batch(1))
	waitMessages(t, api, 1)
}

// An explicit http_proxy_url wins over use_system_proxy (on by default):
// the environment's proxy never applies to 127.0.0.1, so a tunnel through
// the test's proxy shows which one was used.
func TestProxyURLWinsOverEnvironment(t *testing.T) {
	api := botapitest.NewTLS(t, testToken)
	proxy := proxytest.New(t, "")
	p := newPlugin(t, api.URL(), func(p *Telegram) {
		p.UseSystemProxy = true
		p.HTTPProxyURL = proxy.URL
		p.TLSCA = caFile(t, api)
	})
	queueWrite(t, p, batch(1))
	waitMessages(t, api, 1)
	require.NotEmpty(t, proxy.Tunnels())
}

// TestTokenNeverLeaks forces every error path, proxies' included, and
// searches everything the plugin logged or returned for the token and the
// proxy's password.
func TestTokenNeverLeaks(t *testing.T) {
	secrets := []string{testToken[strings.IndexByte(testToken, ':')+1:], "hunter2"}
	var errs []error
	var logs []*captureLogger
	failing := func(apiURL string, opts ...func(*Telegram)) {
		t.Helper()
		p := newPlugin(t, apiURL, append(opts, func(p *Telegram) { p.CloseTimeout = 0 })...)
		queueWrite(t, p, []telegraf.Metric{alertEvent("alert", "🚨 leak test", 1)})
		require.Eventually(t, func() bool { return p.log.count("E!") > 0 }, 30*time.Second, 5*time.Millisecond)
		require.NoError(t, p.Close())
		logs = append(logs, p.log)
	}

	// Init and Connect errors.
	for _, modify := range []func(*Telegram){
		func(p *Telegram) { p.ChatID = "" },
		func(p *Telegram) { p.APIURL = "ftp://x" },
		func(p *Telegram) { p.Timeout = 0 },
		func(p *Telegram) { p.HTTPProxyURL = "ftp://u:hunter2@x" },
		func(p *Telegram) { p.HTTPProxyURL = "http://u:hunter2@[::1" },
	} {
		p := basePlugin("http://127.0.0.1:1")
		p.Log = &captureLogger{}
		modify(p)
		errs = append(errs, p.Init())
	}
	// 401: the server knows another token.
	failing(botapitest.New(t, "1:other").URL())
	require.Contains(t, logs[len(logs)-1].String(), "Unauthorized")

	// API errors.
	for _, r := range []botapitest.Response{
		{Status: 403, Description: "Forbidden: bot was blocked by the user"},
		{Status: 400, Description: "Bad Request: chat not found"},
		{Status: 400, Description: "Bad Request: can't parse entities: x"},
		{Status: 500},
		{Status: 502, Description: "Bad Gateway"},
	} {
		srv := newServer(t)
		srv.SetDefault(r)
		failing(srv.URL())
	}

	// A timeout, a refused connection, answers that are not the API's.
	slow := newServer(t)
	slow.SetDefault(botapitest.Response{Delay: time.Minute})
	failing(slow.URL(), func(p *Telegram) { p.Timeout = 1 })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "http://" + l.Addr().String()
	require.NoError(t, l.Close())
	failing(refused)
	for _, status := range []int{200, 404, 502} {
		garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte("<html>proxy says no " + r.URL.Path + "</html>"))
		}))
		t.Cleanup(garbage.Close)
		failing(garbage.URL)
	}

	// Proxies that refuse the tunnel, hang up, want other credentials, or
	// are not there.
	api := botapitest.NewTLS(t, testToken)
	ca := caFile(t, api)
	for _, setup := range []func(*proxytest.Proxy){
		func(p *proxytest.Proxy) { p.Refuse(http.StatusForbidden) },
		func(p *proxytest.Proxy) { p.HangUp() },
		func(p *proxytest.Proxy) { p.RequireAuth("alerts:other") },
	} {
		proxy := proxytest.New(t, "")
		setup(proxy)
		failing(api.URL(), func(p *Telegram) {
			p.HTTPProxyURL = strings.Replace(proxy.URL, "http://", "http://alerts:hunter2@", 1)
			p.TLSCA = ca
		})
	}
	failing(api.URL(), func(p *Telegram) { p.HTTPProxyURL = "http://alerts:hunter2@127.0.0.1:1"; p.TLSCA = ca })
	require.Contains(t, logs[len(logs)-4].String(), "sendMessage through the proxy http://127.0.0.1:", "the proxy's refusal is in the log")
	require.Contains(t, logs[len(logs)-4].String(), ": Forbidden")
	require.Empty(t, api.Messages())

	var nonNil int
	for _, err := range errs {
		if err == nil {
			continue
		}
		nonNil++
		for _, s := range secrets {
			require.NotContains(t, err.Error(), s)
		}
	}
	require.Equal(t, 5, nonNil, "the Init error paths were taken")
	for _, l := range logs {
		for _, s := range secrets {
			require.NotContains(t, l.String(), s)
		}
	}
	require.Len(t, logs, 15, "the delivery error paths were taken")

	// A dump of a plugin (as a panic or a debugger would print it) holds
	// the token only in its protected container.
	p := newPlugin(t, api.URL(), func(p *Telegram) { p.HTTPProxyURL = "http://alerts:hunter2@127.0.0.1:1" })
	require.NoError(t, p.Close())
	dump := fmt.Sprintf("%+v %#v", *p.Telegram, p.Telegram)
	require.NotContains(t, dump, secrets[0])
}
