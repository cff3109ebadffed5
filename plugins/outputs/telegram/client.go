package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/influxdata/telegraf/config"
)

// redacted replaces the token wherever it could show up in an error.
const redacted = "<token>"

// sendMessageRequest is the JSON body of sendMessage.
type sendMessageRequest struct {
	ChatID              string              `json:"chat_id"`
	Text                string              `json:"text"`
	ParseMode           string              `json:"parse_mode,omitempty"`
	DisableNotification bool                `json:"disable_notification,omitempty"`
	LinkPreviewOptions  *linkPreviewOptions `json:"link_preview_options,omitempty"`
	MessageThreadID     int64               `json:"message_thread_id,omitempty"`
}

type linkPreviewOptions struct {
	IsDisabled bool `json:"is_disabled"`
}

// apiResponse is the envelope of every Bot API answer.
type apiResponse struct {
	OK          bool   `json:"ok"`
	ErrorCode   int    `json:"error_code"`
	Description string `json:"description"`
	Parameters  *struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// apiError is an answer of the Bot API other than ok, or an answer that could
// not be decoded (Code is then the HTTP status).
type apiError struct {
	Code        int
	Description string
	RetryAfter  time.Duration
}

func (e *apiError) Error() string {
	return fmt.Sprintf("telegram API error %d: %s", e.Code, e.Description)
}

// dropped reports whether retrying cannot help: a client error other than
// rate limiting (bad token, chat not found, bot blocked, bad request).
func (e *apiError) dropped() bool {
	return e.Code >= 400 && e.Code < 500 && e.Code != http.StatusTooManyRequests
}

// parseError reports Telegram refusing the HTML markup.
func (e *apiError) parseError() bool {
	return e.Code == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Description), "can't parse entities")
}

// transportError is a failure to get an answer (timeout, refused, reset). It
// replaces net/http's *url.Error, whose message holds the URL and with it the
// token.
type transportError struct {
	msg     string
	timeout bool
}

func (e *transportError) Error() string { return e.msg }

// Timeout reports whether the request timed out.
func (e *transportError) Timeout() bool { return e.timeout }

// client is a small Bot API client for sendMessage. It never keeps the token
// in plain: the secret is opened for each request, used to build the URL and
// destroyed.
type client struct {
	baseURL string
	token   *config.Secret
	http    *http.Client
}

func newClient(baseURL string, token *config.Secret, timeout time.Duration) *client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	return &client{
		baseURL: strings.TrimRight(baseURL, "/"),
		token:   token,
		http: &http.Client{
			Transport: transport,
			Timeout:   timeout,
			// A redirect would carry the token's path to wherever it points.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

func (c *client) close() { c.http.CloseIdleConnections() }

// sendMessage posts one message. It returns nil when the API accepted it, an
// *apiError when the API answered otherwise, or a *transportError.
func (c *client) sendMessage(ctx context.Context, msg *sendMessageRequest) error {
	body, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encoding sendMessage request: %w", err)
	}

	secret, err := c.token.Get()
	if err != nil {
		return fmt.Errorf("getting 'token': %w", err)
	}
	token := secret.String()
	secret.Destroy()

	resp, err := c.do(ctx, c.baseURL+"/bot"+token+"/sendMessage", body)
	if err != nil {
		return scrub(err, token)
	}
	defer resp.Body.Close()
	return decodeAnswer(resp)
}

func (c *client) do(ctx context.Context, u string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.http.Do(req)
}

// scrub turns an error of net/http into one that cannot hold the token: the
// URL of a *url.Error is replaced by a fixed description and any remaining
// occurrence of the token is masked.
func scrub(err error, token string) error {
	op := "POST"
	var timeout bool
	var ue *url.Error
	if errors.As(err, &ue) {
		op = ue.Op
		timeout = ue.Timeout()
		err = ue.Err
	}
	msg := err.Error()
	if token != "" {
		msg = strings.ReplaceAll(msg, token, redacted)
		msg = strings.ReplaceAll(msg, url.PathEscape(token), redacted)
	}
	return &transportError{msg: fmt.Sprintf("%s sendMessage: %s", op, msg), timeout: timeout}
}

func decodeAnswer(resp *http.Response) error {
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return &transportError{msg: fmt.Sprintf("reading sendMessage answer (HTTP %d): %v", resp.StatusCode, err)}
	}
	var ans apiResponse
	if err := json.Unmarshal(raw, &ans); err != nil {
		return &apiError{Code: resp.StatusCode, Description: fmt.Sprintf("undecodable answer (HTTP %d %s)", resp.StatusCode, http.StatusText(resp.StatusCode))}
	}
	if ans.OK && resp.StatusCode == http.StatusOK {
		return nil
	}
	e := &apiError{Code: ans.ErrorCode, Description: ans.Description}
	if e.Code == 0 {
		e.Code = resp.StatusCode
	}
	if e.Code == http.StatusOK {
		// ok=false or a status other than 200 with an error_code of 200:
		// not an answer Telegram gives; retry rather than lose the event.
		e.Code = http.StatusBadGateway
	}
	if e.Description == "" {
		e.Description = http.StatusText(resp.StatusCode)
	}
	if ans.Parameters != nil && ans.Parameters.RetryAfter > 0 {
		e.RetryAfter = time.Duration(ans.Parameters.RetryAfter) * time.Second
	}
	return e
}
