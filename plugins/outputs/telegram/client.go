package telegram

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
)

// redacted replaces the token (and a proxy's password) wherever it could
// show up in an error.
const redacted = "<token>"

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

// apiResponse is the envelope of every Bot API answer.
type apiResponse struct {
	OK          bool   `json:"ok"`
	ErrorCode   int    `json:"error_code"`
	Description string `json:"description"`
	Result      *struct {
		MessageID int64 `json:"message_id"`
	} `json:"result"`
	Parameters *struct {
		RetryAfter      int   `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

// apiError is an answer of the Bot API other than ok, or an answer that could
// not be decoded (Code is then the HTTP status).
type apiError struct {
	Code        int
	Description string
	RetryAfter  time.Duration
	MigrateTo   int64 // the new id of a group upgraded to a supergroup
}

func (e *apiError) Error() string {
	return fmt.Sprintf("telegram API error %d: %s", e.Code, e.Description)
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

// client is a small Bot API client. It never keeps the token in plain: the
// secret is opened for each request, used to build the URL and destroyed.
type client struct {
	baseURL string
	token   *config.Secret
	http    *http.Client
	// secrets are other strings that must never appear in an error (the
	// password of the proxy's URL).
	secrets []string
	// proxy names the proxy in transport errors (without credentials): a
	// "Forbidden" is then known to be the proxy's.
	proxy string
}

func newClient(baseURL string, token *config.Secret, transport *http.Transport, timeout time.Duration) *client {
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
	// Without the HTML escaping of encoding/json: "<b>" rather than
	// "\u003cb\u003e", the same to Telegram and readable in a dump.
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(msg); err != nil {
		return 0, fmt.Errorf("encoding %s request: %w", method, err)
	}

	secret, err := c.token.Get()
	if err != nil {
		return 0, fmt.Errorf("getting 'token': %w", err)
	}
	token := secret.String()
	secret.Destroy()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+"/bot"+token+"/"+method, &body)
	if err != nil {
		return 0, c.scrub(method, err, token)
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
		terr := c.scrub(method, err, token)
		terr.sent = sent.Load()
		return 0, terr
	}
	id, err := decodeAnswer(method, resp)
	_ = resp.Body.Close() // read already: nothing to report
	return id, err
}

// scrub turns an error of net/http into one that cannot hold the token: the
// URL of a *url.Error is replaced by the method's name and any remaining
// occurrence of the token or another secret is masked.
func (c *client) scrub(method string, err error, token string) *transportError {
	op := "POST"
	var timeout bool
	var ue *url.Error
	if errors.As(err, &ue) {
		op = ue.Op
		timeout = ue.Timeout()
		err = ue.Err
	}
	msg := err.Error()
	for _, s := range append([]string{token}, c.secrets...) {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, redacted)
			msg = strings.ReplaceAll(msg, url.PathEscape(s), redacted)
			msg = strings.ReplaceAll(msg, url.QueryEscape(s), redacted)
		}
	}
	via := ""
	if c.proxy != "" {
		via = " through the proxy " + c.proxy
	}
	return &transportError{msg: fmt.Sprintf("%s %s%s: %s", op, method, via, msg), timeout: timeout}
}

func decodeAnswer(method string, resp *http.Response) (int64, error) {
	// A 2xx is Telegram's "taken": a body cut short after it (a reset
	// connection) loses the message_id, not the message.
	accepted := resp.StatusCode/100 == 2 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json")
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		if accepted {
			return 0, &unreadableAnswer{status: resp.StatusCode, err: err}
		}
		return 0, &transportError{msg: fmt.Sprintf("reading %s answer (HTTP %d): %v", method, resp.StatusCode, err)}
	}
	var ans apiResponse
	if err := json.Unmarshal(raw, &ans); err != nil {
		var syntax *json.SyntaxError
		if accepted && (errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF)) {
			return 0, &unreadableAnswer{status: resp.StatusCode, err: err}
		}
		return 0, &apiError{Code: resp.StatusCode, Description: fmt.Sprintf("undecodable answer (HTTP %d %s)", resp.StatusCode, http.StatusText(resp.StatusCode))}
	}
	if ans.OK && resp.StatusCode == http.StatusOK {
		var id int64
		if ans.Result != nil {
			id = ans.Result.MessageID
		}
		return id, nil
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
	if p := ans.Parameters; p != nil {
		if p.RetryAfter > 0 {
			e.RetryAfter = time.Duration(p.RetryAfter) * time.Second
		}
		e.MigrateTo = p.MigrateToChatID
	}
	return 0, e
}
