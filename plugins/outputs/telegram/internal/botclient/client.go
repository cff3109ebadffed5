// Package botclient is the output's side of the Bot API: the requests it
// sends, what Telegram's answers mean for a delivery, messages shaped to
// Telegram's limits, and the pacing Telegram asks for. The HTTP client it
// builds on, shared with inputs.telegram_actions, is internal/botapi.
package botclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/procblocking/procblocking/internal/botapi"
)

// SendMessageRequest is the JSON body of sendMessage.
type SendMessageRequest struct {
	ChatID              string              `json:"chat_id"`
	Text                string              `json:"text"`
	ParseMode           string              `json:"parse_mode,omitempty"`
	DisableNotification bool                `json:"disable_notification,omitempty"`
	LinkPreviewOptions  *LinkPreviewOptions `json:"link_preview_options,omitempty"`
	MessageThreadID     int64               `json:"message_thread_id,omitempty"`
	ReplyParameters     *ReplyParameters    `json:"reply_parameters,omitempty"`
	ReplyMarkup         *InlineKeyboard     `json:"reply_markup,omitempty"`
}

type LinkPreviewOptions struct {
	IsDisabled bool `json:"is_disabled"`
}

// ReplyParameters makes a message a reply. allow_sending_without_reply: a
// deleted alert never blocks the delivery of its realerts and recovery.
type ReplyParameters struct {
	MessageID                int64 `json:"message_id"`
	AllowSendingWithoutReply bool  `json:"allow_sending_without_reply"`
}

// EditMessageTextRequest is the JSON body of editMessageText.
type EditMessageTextRequest struct {
	ChatID             string              `json:"chat_id"`
	MessageID          int64               `json:"message_id"`
	Text               string              `json:"text"`
	ParseMode          string              `json:"parse_mode,omitempty"`
	LinkPreviewOptions *LinkPreviewOptions `json:"link_preview_options,omitempty"`
	ReplyMarkup        *InlineKeyboard     `json:"reply_markup,omitempty"`
}

// APIError is an answer of the Bot API other than ok, or an answer that could
// not be decoded (Code is then the HTTP status), with the output's reading
// of it.
type APIError struct {
	botapi.APIError
}

// Dropped reports whether retrying cannot help: a message refused for its
// own content. Rate limiting and configuration faults are retried.
func (e *APIError) Dropped() bool {
	return e.Code >= 400 && e.Code < 500 && e.Code != http.StatusTooManyRequests && e.ConfigFault() == ""
}

// ConfigFault says what to fix when the error refuses every message to the
// chat, not this one: a token revoked or being rotated, the bot removed from
// the group or blocked, a chat or topic that does not exist for the bot.
// Someone will fix it, so the queue waits for them. "" for other errors.
func (e *APIError) ConfigFault() string {
	switch {
	case e.Code == http.StatusUnauthorized:
		return "check 'token' (revoked, or being rotated?)"
	case e.Code == http.StatusNotFound:
		return "check 'token' and 'api_url'"
	case e.Code == http.StatusForbidden:
		return "add the bot to the chat (or unblock it) and let it post there"
	case e.Says("chat not found"):
		return "check 'chat_id' and that the bot is a member of the chat"
	case e.Says("message thread not found"), e.Says("topic_deleted"), e.Says("topic_closed"):
		return "check 'message_thread_id' (a topic deleted or closed?)"
	case e.Says("not enough rights"), e.Says("have no rights"), e.Says("need administrator rights"):
		return "let the bot post in the chat"
	}
	return ""
}

// ParseError reports Telegram refusing the HTML markup.
func (e *APIError) ParseError() bool {
	return e.Says("can't parse entities")
}

// ReplyNotFound reports a reply to a message that is gone, refused by an API
// that ignores allow_sending_without_reply.
func (e *APIError) ReplyNotFound() bool {
	return e.Says("message to be replied not found") || e.Says("reply message not found")
}

// Says reports a request refused (400) with description in Telegram's
// words, such as "message is not modified".
func (e *APIError) Says(description string) bool {
	return e.Code == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Description), description)
}

// TransportError is a failure to get an answer (timeout, refused, reset, a
// proxy refusing). It replaces net/http's *url.Error, whose message holds
// the URL and with it the token.
type TransportError struct {
	msg     string
	timeout bool
	// sent: the whole request went out before the failure, so Telegram may
	// have taken the message (Telegram has no idempotency key).
	sent bool
}

func (e *TransportError) Error() string { return e.msg }

// Timeout reports whether the request timed out.
func (e *TransportError) Timeout() bool { return e.timeout }

// Sent reports whether the whole request went out before the failure.
func (e *TransportError) Sent() bool { return e.sent }

// UnreadableAnswer is a 2xx answer whose body could not be read or decoded
// (a connection reset while Telegram answered): Telegram took the message,
// but its message_id is unknown.
type UnreadableAnswer struct {
	Status int
	Err    error
}

func (e *UnreadableAnswer) Error() string {
	return fmt.Sprintf("HTTP %d with an unreadable body: %v", e.Status, e.Err)
}

// Client is the output's Bot API client: the methods it calls, and what
// their answers mean for the delivery.
type Client struct {
	api *botapi.Client
}

// New is the output's client over api.
func New(api *botapi.Client) *Client { return &Client{api: api} }

// Close releases the client's idle connections.
func (c *Client) Close() { c.api.Close() }

// SendMessage posts one message within timeout (0: the client's) and
// returns its message_id. The error is an *APIError when the API answered
// otherwise, an *UnreadableAnswer when it took the message but its answer
// was lost, or a *TransportError.
func (c *Client) SendMessage(ctx context.Context, msg *SendMessageRequest, timeout time.Duration) (int64, error) {
	return c.call(ctx, "sendMessage", msg, timeout)
}

// EditMessageText replaces the text of a message sent before.
func (c *Client) EditMessageText(ctx context.Context, msg *EditMessageTextRequest) error {
	_, err := c.call(ctx, "editMessageText", msg, 0)
	return err
}

func (c *Client) call(ctx context.Context, method string, msg any, timeout time.Duration) (int64, error) {
	resp, err := c.api.Post(ctx, method, msg, timeout)
	var rerr *botapi.RequestError
	var unread *botapi.ReadError
	switch {
	case errors.As(err, &rerr):
		return 0, &TransportError{msg: rerr.Error(), timeout: rerr.Timeout, sent: rerr.Sent}
	case errors.As(err, &unread):
		if takenAnswer(resp) {
			return 0, &UnreadableAnswer{Status: resp.Status, Err: unread}
		}
		return 0, &TransportError{msg: fmt.Sprintf("reading %s answer (HTTP %d): %v", method, resp.Status, unread)}
	case err != nil:
		return 0, err
	}
	return decodeAnswer(resp)
}

// takenAnswer reports Telegram's "taken": a body cut short after it (a reset
// connection) loses the message_id, not the message.
func takenAnswer(resp *botapi.Response) bool {
	return resp.Status/100 == 2 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json")
}

func decodeAnswer(resp *botapi.Response) (int64, error) {
	var ans botapi.Answer[*struct {
		MessageID int64 `json:"message_id"`
	}]
	if err := json.Unmarshal(resp.Body, &ans); err != nil {
		var syntax *json.SyntaxError
		if takenAnswer(resp) && (errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF)) {
			return 0, &UnreadableAnswer{Status: resp.Status, Err: err}
		}
		return 0, &APIError{botapi.APIError{Code: resp.Status, Description: fmt.Sprintf("undecodable answer (HTTP %d %s)", resp.Status, http.StatusText(resp.Status))}}
	}
	if ans.OK && resp.Status == http.StatusOK {
		var id int64
		if ans.Result != nil {
			id = ans.Result.MessageID
		}
		return id, nil
	}
	e := &APIError{*ans.Err(resp.Status)}
	if e.Code == http.StatusOK {
		// ok=false or a status other than 200 with an error_code of 200:
		// not an answer Telegram gives; retry rather than lose the event.
		e.Code = http.StatusBadGateway
	}
	if e.Description == "" {
		e.Description = http.StatusText(resp.Status)
	}
	return 0, e
}
