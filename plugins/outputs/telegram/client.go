package telegram

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

// sendMessageRequest is the JSON body of sendMessage.
type sendMessageRequest struct {
	ChatID              string              `json:"chat_id"`
	Text                string              `json:"text"`
	ParseMode           string              `json:"parse_mode,omitempty"`
	DisableNotification bool                `json:"disable_notification,omitempty"`
	LinkPreviewOptions  *linkPreviewOptions `json:"link_preview_options,omitempty"`
	MessageThreadID     int64               `json:"message_thread_id,omitempty"`
	ReplyParameters     *replyParameters    `json:"reply_parameters,omitempty"`
	ReplyMarkup         *inlineKeyboard     `json:"reply_markup,omitempty"`
}

type linkPreviewOptions struct {
	IsDisabled bool `json:"is_disabled"`
}

// replyParameters makes a message a reply. allow_sending_without_reply: a
// deleted alert never blocks the delivery of its realerts and recovery.
type replyParameters struct {
	MessageID                int64 `json:"message_id"`
	AllowSendingWithoutReply bool  `json:"allow_sending_without_reply"`
}

// editMessageTextRequest is the JSON body of editMessageText.
type editMessageTextRequest struct {
	ChatID             string              `json:"chat_id"`
	MessageID          int64               `json:"message_id"`
	Text               string              `json:"text"`
	ParseMode          string              `json:"parse_mode,omitempty"`
	LinkPreviewOptions *linkPreviewOptions `json:"link_preview_options,omitempty"`
	ReplyMarkup        *inlineKeyboard     `json:"reply_markup,omitempty"`
}

// apiError is an answer of the Bot API other than ok, or an answer that could
// not be decoded (Code is then the HTTP status), with the output's reading
// of it.
type apiError struct {
	botapi.APIError
}

// dropped reports whether retrying cannot help: a message refused for its
// own content. Rate limiting and configuration faults are retried.
func (e *apiError) dropped() bool {
	return e.Code >= 400 && e.Code < 500 && e.Code != http.StatusTooManyRequests && e.configFault() == ""
}

// configFault says what to fix when the error refuses every message to the
// chat, not this one: a token revoked or being rotated, the bot removed from
// the group or blocked, a chat or topic that does not exist for the bot.
// Someone will fix it, so the queue waits for them. "" for other errors.
func (e *apiError) configFault() string {
	switch {
	case e.Code == http.StatusUnauthorized:
		return "check 'token' (revoked, or being rotated?)"
	case e.Code == http.StatusNotFound:
		return "check 'token' and 'api_url'"
	case e.Code == http.StatusForbidden:
		return "add the bot to the chat (or unblock it) and let it post there"
	case e.is("chat not found"):
		return "check 'chat_id' and that the bot is a member of the chat"
	case e.is("message thread not found"), e.is("topic_deleted"), e.is("topic_closed"):
		return "check 'message_thread_id' (a topic deleted or closed?)"
	case e.is("not enough rights"), e.is("have no rights"), e.is("need administrator rights"):
		return "let the bot post in the chat"
	}
	return ""
}

// parseError reports Telegram refusing the HTML markup.
func (e *apiError) parseError() bool {
	return e.is("can't parse entities")
}

// replyNotFound reports a reply to a message that is gone, refused by an API
// that ignores allow_sending_without_reply.
func (e *apiError) replyNotFound() bool {
	return e.is("message to be replied not found") || e.is("reply message not found")
}

func (e *apiError) is(description string) bool {
	return e.Code == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Description), description)
}

// transportError is a failure to get an answer (timeout, refused, reset, a
// proxy refusing). It replaces net/http's *url.Error, whose message holds
// the URL and with it the token.
type transportError struct {
	msg     string
	timeout bool
	// sent: the whole request went out before the failure, so Telegram may
	// have taken the message (Telegram has no idempotency key).
	sent bool
}

func (e *transportError) Error() string { return e.msg }

// Timeout reports whether the request timed out.
func (e *transportError) Timeout() bool { return e.timeout }

// unreadableAnswer is a 2xx answer whose body could not be read or decoded
// (a connection reset while Telegram answered): Telegram took the message,
// but its message_id is unknown.
type unreadableAnswer struct {
	status int
	err    error
}

func (e *unreadableAnswer) Error() string {
	return fmt.Sprintf("HTTP %d with an unreadable body: %v", e.status, e.err)
}

// client is the output's Bot API client: the methods it calls, and what
// their answers mean for the delivery.
type client struct {
	api *botapi.Client
}

func (c *client) close() { c.api.Close() }

// sendMessage posts one message within timeout (0: the client's) and
// returns its message_id. The error is an *apiError when the API answered
// otherwise, an *unreadableAnswer when it took the message but its answer
// was lost, or a *transportError.
func (c *client) sendMessage(ctx context.Context, msg *sendMessageRequest, timeout time.Duration) (int64, error) {
	return c.call(ctx, "sendMessage", msg, timeout)
}

// editMessageText replaces the text of a message sent before.
func (c *client) editMessageText(ctx context.Context, msg *editMessageTextRequest) error {
	_, err := c.call(ctx, "editMessageText", msg, 0)
	return err
}

func (c *client) call(ctx context.Context, method string, msg any, timeout time.Duration) (int64, error) {
	resp, err := c.api.Post(ctx, method, msg, timeout)
	var rerr *botapi.RequestError
	var unread *botapi.ReadError
	switch {
	case errors.As(err, &rerr):
		return 0, &transportError{msg: rerr.Error(), timeout: rerr.Timeout, sent: rerr.Sent}
	case errors.As(err, &unread):
		if takenAnswer(resp) {
			return 0, &unreadableAnswer{status: resp.Status, err: unread}
		}
		return 0, &transportError{msg: fmt.Sprintf("reading %s answer (HTTP %d): %v", method, resp.Status, unread)}
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
			return 0, &unreadableAnswer{status: resp.Status, err: err}
		}
		return 0, &apiError{botapi.APIError{Code: resp.Status, Description: fmt.Sprintf("undecodable answer (HTTP %d %s)", resp.Status, http.StatusText(resp.Status))}}
	}
	if ans.OK && resp.Status == http.StatusOK {
		var id int64
		if ans.Result != nil {
			id = ans.Result.MessageID
		}
		return id, nil
	}
	e := &apiError{*ans.Err(resp.Status)}
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
