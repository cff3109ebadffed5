package telegram_actions

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

// client is a small Bot API client for the updates side. The token is
// opened for each request and never kept in plain, nor shown in an error.
type client struct {
	baseURL string
	token   *config.Secret
	http    *http.Client
	timeout time.Duration
	secrets []string // other strings never to show (a proxy's password)
}

func newClient(baseURL string, token *config.Secret, transport *http.Transport, timeout time.Duration) *client {
	return &client{
		baseURL: strings.TrimRight(baseURL, "/"),
		token:   token,
		timeout: timeout,
		http: &http.Client{
			Transport: transport,
			// A redirect would carry the token's path to wherever it points.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

func (c *client) close() { c.http.CloseIdleConnections() }

// apiError is an answer of the Bot API other than ok.
type apiError struct {
	Code        int
	Description string
	RetryAfter  time.Duration
}

func (e *apiError) Error() string {
	return fmt.Sprintf("telegram API error %d: %s", e.Code, e.Description)
}

// call posts params to method within wait (the client's timeout plus what
// the method holds the request, for a long poll) and decodes the result.
func (c *client) call(ctx context.Context, method string, params, result any, wait time.Duration) error {
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("encoding %s request: %w", method, err)
	}
	secret, err := c.token.Get()
	if err != nil {
		return fmt.Errorf("getting 'token': %w", err)
	}
	token := secret.String()
	secret.Destroy()

	ctx, cancel := context.WithTimeout(ctx, c.timeout+wait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+"/bot"+token+"/"+method, bytes.NewReader(body))
	if err != nil {
		return c.scrub(method, err, token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return c.scrub(method, err, token)
	}
	defer func() { _ = resp.Body.Close() }() // read whole: nothing to report
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return c.scrub(method, err, token)
	}
	var ans struct {
		OK          bool            `json:"ok"`
		ErrorCode   int             `json:"error_code"`
		Description string          `json:"description"`
		Result      json.RawMessage `json:"result"`
		Parameters  *struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return &apiError{Code: resp.StatusCode, Description: fmt.Sprintf("undecodable answer to %s (HTTP %d %s)", method, resp.StatusCode, http.StatusText(resp.StatusCode))}
	}
	if !ans.OK || resp.StatusCode != http.StatusOK {
		e := &apiError{Code: ans.ErrorCode, Description: ans.Description}
		if e.Code == 0 || e.Code == http.StatusOK {
			e.Code = resp.StatusCode
		}
		if ans.Parameters != nil {
			e.RetryAfter = time.Duration(ans.Parameters.RetryAfter) * time.Second
		}
		return e
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(ans.Result, result); err != nil {
		return fmt.Errorf("decoding %s result: %w", method, err)
	}
	return nil
}

// scrub turns an error of net/http into one without the token.
func (c *client) scrub(method string, err error, token string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	for _, s := range append([]string{token}, c.secrets...) {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "<token>")
			msg = strings.ReplaceAll(msg, url.PathEscape(s), "<token>")
		}
	}
	return fmt.Errorf("%s: %s", method, msg)
}

type user struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

type chat struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

type message struct {
	MessageID int64  `json:"message_id"`
	From      *user  `json:"from"`
	Chat      chat   `json:"chat"`
	Text      string `json:"text"`
	Entities  []struct {
		Type   string `json:"type"`
		Offset int    `json:"offset"`
		Length int    `json:"length"`
	} `json:"entities"`
}

type callbackQuery struct {
	ID      string   `json:"id"`
	From    user     `json:"from"`
	Message *message `json:"message"`
	Data    string   `json:"data"`
}

type update struct {
	UpdateID      int64          `json:"update_id"`
	Message       *message       `json:"message"`
	CallbackQuery *callbackQuery `json:"callback_query"`
}

// allowedUpdates asks Telegram for what the input handles only.
var allowedUpdates = []string{"message", "callback_query"}

func (c *client) getUpdates(ctx context.Context, offset int64, limit int, timeout time.Duration) ([]update, error) {
	params := map[string]any{"timeout": int(timeout / time.Second), "allowed_updates": allowedUpdates, "limit": limit}
	if offset != 0 {
		params["offset"] = offset
	}
	var ups []update
	err := c.call(ctx, "getUpdates", params, &ups, timeout)
	return ups, err
}

func (c *client) answerCallbackQuery(ctx context.Context, id, text string) error {
	return c.call(ctx, "answerCallbackQuery", map[string]any{"callback_query_id": id, "text": text}, nil, 0)
}

func (c *client) webhookURL(ctx context.Context) (string, error) {
	var info struct {
		URL string `json:"url"`
	}
	err := c.call(ctx, "getWebhookInfo", struct{}{}, &info, 0)
	return info.URL, err
}

func (c *client) botUsername(ctx context.Context) (string, error) {
	var me struct {
		Username string `json:"username"`
	}
	err := c.call(ctx, "getMe", struct{}{}, &me, 0)
	return me.Username, err
}
