package telegram_actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/procblocking/procblocking/internal/botapi"
)

// client is a small Bot API client for the updates side.
type client struct {
	api     *botapi.Client
	timeout time.Duration
}

func (c *client) close() { c.api.Close() }

// apiError is an answer of the Bot API other than ok.
type apiError = botapi.APIError

// call posts params to method within wait (the client's timeout plus what
// the method holds the request, for a long poll) and decodes the result.
func (c *client) call(ctx context.Context, method string, params, result any, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout+wait)
	defer cancel()
	resp, err := c.api.Post(ctx, method, params, 0)
	var rerr *botapi.RequestError
	var unread *botapi.ReadError
	switch {
	case errors.As(err, &rerr):
		return fmt.Errorf("%s: %s", method, rerr.Msg)
	case errors.As(err, &unread):
		return fmt.Errorf("%s: %s", method, unread.Msg)
	case err != nil:
		return err
	}
	var ans botapi.Answer[json.RawMessage]
	if err := json.Unmarshal(resp.Body, &ans); err != nil {
		return &apiError{Code: resp.Status, Description: fmt.Sprintf("undecodable answer to %s (HTTP %d %s)", method, resp.Status, http.StatusText(resp.Status))}
	}
	if !ans.OK || resp.Status != http.StatusOK {
		e := ans.Err(resp.Status)
		if e.Code == http.StatusOK {
			e.Code = resp.Status
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
