package botapi

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	httpconfig "github.com/influxdata/telegraf/plugins/common/http"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/internal/testkit/proxytest"
)

const (
	testToken  = "987654321:AAHsecretPart_-xyzTOKEN"
	testSecret = "AAHsecretPart_-xyzTOKEN"
)

func newTestClient(t *testing.T, baseURL string, tc httpconfig.TransportConfig, timeout time.Duration) *Client {
	t.Helper()
	token := config.NewSecret([]byte(testToken))
	t.Cleanup(token.Destroy)
	c, err := NewClient(baseURL, &token, tc, timeout)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// caFile writes the certificate of a TLS server where tls_ca can name it.
func caFile(t *testing.T, api *botapitest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.Certificate().Raw})
	require.NoError(t, os.WriteFile(path, pemBytes, 0o600))
	return path
}

type message struct {
	MessageID int64 `json:"message_id"`
}

func send(t *testing.T, c *Client, timeout time.Duration) (*Response, error) {
	t.Helper()
	return c.Post(context.Background(), "sendMessage", map[string]any{"chat_id": "42", "text": "<b>stuck</b> pytest"}, timeout)
}

func TestPostDecodesTheResult(t *testing.T) {
	api := botapitest.New(t, testToken)
	c := newTestClient(t, api.URL()+"/", httpconfig.TransportConfig{}, 5*time.Second)

	resp, err := send(t, c, 0)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.Status)
	var ans Answer[message]
	require.NoError(t, json.Unmarshal(resp.Body, &ans))
	require.True(t, ans.OK)
	require.Positive(t, ans.Result.MessageID)

	msgs := api.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, "<b>stuck</b> pytest", msgs[0].Text)
}

func TestAnswerErr(t *testing.T) {
	api := botapitest.New(t, testToken)
	api.Migrate("42", -1001234567890)
	api.Enqueue(botapitest.Response{Status: http.StatusTooManyRequests, RetryAfter: 3})
	c := newTestClient(t, api.URL(), httpconfig.TransportConfig{}, 5*time.Second)

	decode := func() *APIError {
		t.Helper()
		resp, err := send(t, c, 0)
		require.NoError(t, err)
		var ans Answer[json.RawMessage]
		require.NoError(t, json.Unmarshal(resp.Body, &ans))
		require.False(t, ans.OK)
		return ans.Err(resp.Status)
	}

	e := decode()
	require.Equal(t, http.StatusTooManyRequests, e.Code)
	require.Equal(t, 3*time.Second, e.RetryAfter)
	require.Zero(t, e.MigrateTo)
	require.Equal(t, "telegram API error 429: "+e.Description, e.Error())

	e = decode()
	require.Equal(t, http.StatusBadRequest, e.Code)
	require.Equal(t, botapitest.ChatMigrated, e.Description)
	require.Equal(t, int64(-1001234567890), e.MigrateTo)
	require.Zero(t, e.RetryAfter)
}

func TestAnswerErrWithoutErrorCodeTakesTheStatus(t *testing.T) {
	var ans Answer[json.RawMessage]
	require.NoError(t, json.Unmarshal([]byte(`{"ok":false}`), &ans))
	e := ans.Err(http.StatusBadGateway)
	require.Equal(t, http.StatusBadGateway, e.Code)
	require.Empty(t, e.Description)
}

func TestRequestErrorNeverHoldsTheToken(t *testing.T) {
	// A port nothing listens on: the listener is closed before the call.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	c := newTestClient(t, "http://"+addr, httpconfig.TransportConfig{}, 5*time.Second)
	_, err = send(t, c, 0)
	var rerr *RequestError
	require.ErrorAs(t, err, &rerr)
	require.Equal(t, "Post", rerr.Op)
	require.Equal(t, "sendMessage", rerr.Method)
	require.False(t, rerr.Sent)
	require.True(t, strings.HasPrefix(err.Error(), "Post sendMessage: "), err.Error())
	require.NotContains(t, err.Error(), testSecret)
	require.NotContains(t, err.Error(), addr+"/bot")
}

func TestRequestErrorThroughAProxyNamesItWithoutThePassword(t *testing.T) {
	api := botapitest.NewTLS(t, testToken)
	proxy := proxytest.New(t, "alerts:hunter2")
	proxy.Refuse(http.StatusForbidden)
	var tc httpconfig.TransportConfig
	tc.HTTPProxyURL = strings.Replace(proxy.URL, "http://", "http://alerts:hunter2@", 1)
	tc.TLSCA = caFile(t, api)
	c := newTestClient(t, api.URL(), tc, 5*time.Second)

	_, err := send(t, c, 0)
	var rerr *RequestError
	require.ErrorAs(t, err, &rerr)
	require.Equal(t, proxy.URL, rerr.Proxy)
	require.Contains(t, err.Error(), "sendMessage through the proxy "+proxy.URL+": ")
	require.NotContains(t, err.Error(), "hunter2")
	require.NotContains(t, err.Error(), testSecret)
	require.Empty(t, api.Messages(), "the proxy refused: nothing reached the API")
}

func TestPostThroughAProxy(t *testing.T) {
	api := botapitest.NewTLS(t, testToken)
	proxy := proxytest.New(t, "alerts:hunter2")
	var tc httpconfig.TransportConfig
	tc.HTTPProxyURL = strings.Replace(proxy.URL, "http://", "http://alerts:hunter2@", 1)
	tc.UseSystemProxy = true // the explicit URL wins
	tc.TLSCA = caFile(t, api)
	c := newTestClient(t, api.URL(), tc, 5*time.Second)

	_, err := send(t, c, 0)
	require.NoError(t, err)
	require.Len(t, api.Messages(), 1)
	require.Equal(t, []string{strings.TrimPrefix(api.URL(), "https://")}, proxy.Tunnels())
}

func TestPostTimeoutOverridesTheClients(t *testing.T) {
	api := botapitest.New(t, testToken)
	// The answer comes long after the call's timeout and long before the
	// client's: only the call's can end it.
	api.Enqueue(botapitest.Response{Delay: time.Hour})
	c := newTestClient(t, api.URL(), httpconfig.TransportConfig{}, 2*time.Hour)

	_, err := send(t, c, 100*time.Millisecond)
	var rerr *RequestError
	require.ErrorAs(t, err, &rerr)
	require.True(t, rerr.Timeout, err.Error())
	require.NotContains(t, err.Error(), testSecret)
}

func TestCutAnswerIsAReadError(t *testing.T) {
	api := botapitest.New(t, testToken)
	api.Enqueue(botapitest.Response{CutBody: true})
	c := newTestClient(t, api.URL(), httpconfig.TransportConfig{}, 5*time.Second)

	resp, err := send(t, c, 0)
	var rerr *ReadError
	require.ErrorAs(t, err, &rerr)
	require.NotNil(t, resp)
	require.Equal(t, http.StatusOK, resp.Status)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.Len(t, api.Messages(), 1, "the API took the message before the answer was cut")
}

func TestTokenFromAFailingSecret(t *testing.T) {
	api := botapitest.New(t, testToken)
	token := config.NewSecret([]byte("@{nostore:token}"))
	t.Cleanup(token.Destroy)
	c, err := NewClient(api.URL(), &token, httpconfig.TransportConfig{}, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	_, err = send(t, c, 0)
	require.ErrorContains(t, err, "getting 'token': ")
	require.Zero(t, api.Requests())
}

func TestNewClientReportsATransportThatCannotBeBuilt(t *testing.T) {
	// Init checked the options; a CA file removed since is what is left.
	var tc httpconfig.TransportConfig
	tc.TLSCA = filepath.Join(t.TempDir(), "removed-ca.pem")
	token := config.NewSecret([]byte(testToken))
	t.Cleanup(token.Destroy)
	_, err := NewClient("https://127.0.0.1:1", &token, tc, time.Second)
	require.ErrorContains(t, err, "setting up the HTTP transport: ")
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestScrubProxyMasksThePassword(t *testing.T) {
	proxyURL := "http://alerts:hunter2@127.0.0.1:3128"
	err := scrubProxy(errors.New("proxyconnect tcp to "+proxyURL+": refused"), proxyURL)
	require.EqualError(t, err, "proxyconnect tcp to http://alerts:xxxxx@127.0.0.1:3128: refused")

	plain := errors.New("no proxy password here")
	require.Same(t, plain, scrubProxy(plain, "http://127.0.0.1:3128"))
}

func TestRedirectIsNotFollowed(t *testing.T) {
	// A redirect would carry the token's path to wherever it points.
	c := newTestClient(t, "http://127.0.0.1:1", httpconfig.TransportConfig{}, time.Second)
	require.NotNil(t, c.http.CheckRedirect)
	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/elsewhere", nil)
	require.NoError(t, err)
	require.ErrorIs(t, c.http.CheckRedirect(req, nil), http.ErrUseLastResponse)
}
