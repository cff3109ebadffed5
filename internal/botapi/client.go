package botapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/influxdata/telegraf/config"
	httpconfig "github.com/influxdata/telegraf/plugins/common/http"
)

// Redacted replaces the token (and a proxy's password) wherever it could
// show up in an error.
const Redacted = "<token>"

// maxAnswer bounds the body read of an answer: a full getUpdates batch
// fits.
const maxAnswer = 8 << 20

// Client posts Bot API methods. It never keeps the token in plain: the
// secret is opened for each request, used to build the URL and destroyed.
type Client struct {
	baseURL string
	token   *config.Secret
	http    *http.Client
	// secrets are other strings that must never appear in an error (the
	// password of the proxy's URL).
	secrets []string
	// proxy is the proxy's URL without credentials, "" without a proxy.
	proxy string
}

// NewClient builds a client on Telegraf's HTTP transport (proxy, TLS). An
// explicit http_proxy_url wins over use_system_proxy. timeout bounds each
// call (0: only the caller's context does).
func NewClient(baseURL string, token *config.Secret, tc httpconfig.TransportConfig, timeout time.Duration) (*Client, error) {
	proxyURL := tc.HTTPProxyURL
	if proxyURL != "" {
		tc.UseSystemProxy = false
	}
	transport, err := tc.CreateTransport()
	if err != nil {
		// Init checked the options; what is left is a file that changed.
		return nil, fmt.Errorf("setting up the HTTP transport: %w", scrubProxy(err, proxyURL))
	}
	c := &Client{
		baseURL: strings.TrimRight(baseURL, "/"),
		token:   token,
		http: &http.Client{
			Transport: transport,
			Timeout:   timeout,
			// A redirect would carry the token's path to wherever it points.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	if u, err := url.Parse(proxyURL); err == nil && proxyURL != "" {
		if pw, ok := u.User.Password(); ok {
			c.secrets = append(c.secrets, pw)
		}
		u.User = nil
		c.proxy = u.String()
	}
	return c, nil
}

// scrubProxy keeps the proxy URL's password out of an error.
func scrubProxy(err error, proxyURL string) error {
	u, perr := url.Parse(proxyURL)
	if perr != nil || u.User == nil {
		return err
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
	}
	return err
}

// Close drops the idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Response is an answer of the API, its body read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// RequestError is a failure to get an answer (timeout, refused, reset, a
// proxy refusing). It replaces net/http's *url.Error, whose message holds
// the URL and with it the token.
type RequestError struct {
	Op      string // "POST", or the operation of net/http's error
	Method  string
	Proxy   string // the proxy's URL without credentials, "" without one
	Msg     string // the cause, without the token or another secret
	Timeout bool
	// Sent: the whole request went out before the failure, so Telegram may
	// have taken it (Telegram has no idempotency key).
	Sent bool
}

func (e *RequestError) Error() string {
	via := ""
	if e.Proxy != "" {
		via = " through the proxy " + e.Proxy
	}
	return fmt.Sprintf("%s %s%s: %s", e.Op, e.Method, via, e.Msg)
}

// ReadError is an answer whose head came but whose body could not be read.
type ReadError struct {
	Msg string // the cause, without the token or another secret
}

func (e *ReadError) Error() string { return e.Msg }

// Post sends params as JSON to method within timeout (0: the client's) and
// reads the answer. The error is a *RequestError when no answer came, a
// *ReadError, with the Response's Status and Header, when its body could
// not be read, or another error before anything was sent.
func (c *Client) Post(ctx context.Context, method string, params any, timeout time.Duration) (*Response, error) {
	// Without the HTML escaping of encoding/json: "<b>" rather than
	// "\u003cb\u003e", the same to Telegram and readable in a dump.
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(params); err != nil {
		return nil, fmt.Errorf("encoding %s request: %w", method, err)
	}

	secret, err := c.token.Get()
	if err != nil {
		return nil, fmt.Errorf("getting 'token': %w", err)
	}
	token := secret.String()
	secret.Destroy()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+"/bot"+token+"/"+method, &body)
	if err != nil {
		return nil, c.scrub(method, err, token)
	}
	req.Header.Set("Content-Type", "application/json")
	var sent atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) { sent.Store(info.Err == nil) },
	}))
	hc := c.http
	if timeout > 0 {
		longer := *c.http // the same transport, another timeout
		longer.Timeout = timeout
		hc = &longer
	}
	resp, err := hc.Do(req)
	if err != nil {
		rerr := c.scrub(method, err, token)
		rerr.Sent = sent.Load()
		return nil, rerr
	}
	defer func() { _ = resp.Body.Close() }() // read whole: nothing to report
	ans := &Response{Status: resp.StatusCode, Header: resp.Header}
	ans.Body, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return ans, &ReadError{Msg: c.mask(err.Error(), token)}
	}
	return ans, nil
}

// scrub turns an error of net/http into one that cannot hold the token: the
// URL of a *url.Error is replaced by the method's name and any remaining
// occurrence of the token or another secret is masked.
func (c *Client) scrub(method string, err error, token string) *RequestError {
	e := &RequestError{Op: "POST", Method: method, Proxy: c.proxy}
	var ue *url.Error
	if errors.As(err, &ue) {
		e.Op = ue.Op
		e.Timeout = ue.Timeout()
		err = ue.Err
	}
	e.Msg = c.mask(err.Error(), token)
	return e
}

// mask replaces the token and the other secrets in msg, plain or escaped.
func (c *Client) mask(msg, token string) string {
	for _, s := range append([]string{token}, c.secrets...) {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, Redacted)
			msg = strings.ReplaceAll(msg, url.PathEscape(s), Redacted)
			msg = strings.ReplaceAll(msg, url.QueryEscape(s), Redacted)
		}
	}
	return msg
}
