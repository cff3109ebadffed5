// Package botapitest is a fake Telegram Bot API for tests: an httptest server
// on 127.0.0.1 that implements sendMessage and editMessageText (and, in
// updates.go, getUpdates, answerCallbackQuery, editMessageReplyMarkup and the
// webhook calls) closely enough that a client passing against it also passes
// against the real API.
//
// It checks what Telegram checks: the token, the chat, the text's length
// counted after entity parsing (so "&lt;" is one character), the HTML markup,
// message_ids counting up per chat, replies to messages that do not exist
// (refused unless allow_sending_without_reply), edits of unknown messages and
// edits that change nothing. It is deliberately a little stricter than
// Telegram where that costs nothing and catches a client's mistake: a bare
// '&' that does not start an entity is refused, and so is an unknown field in
// reply_parameters (Telegram ignores it, and a misspelt field would silently
// lose the reply).
package botapitest

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// MaxTextRunes is the limit on a message's text, in characters after entity
// parsing.
const MaxTextRunes = 4096

// Descriptions Telegram answers with, for the cases a client must handle.
const (
	ReplyNotFound  = "Bad Request: message to be replied not found"
	EditNotFound   = "Bad Request: message to edit not found"
	NotModified    = "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"
	ChatMigrated   = "Bad Request: group chat was upgraded to a supergroup chat"
	MessageTooLong = "Bad Request: message is too long"
	BotKicked      = "Forbidden: bot was kicked from the supergroup chat"
)

// Message is one message the server accepted, with what later requests did
// to it.
type Message struct {
	ChatID              string
	MessageID           int64
	Text                string // as sent
	ParseMode           string
	DisableNotification bool
	LinkPreviewDisabled bool
	MessageThreadID     int64
	ReplyTo             int64  // the message_id it replies to; 0 when not a reply
	EditedText          string // the text of the last editMessageText; "" when never edited
	Deleted             bool
	// Keyboard is the message's inline keyboard now (nil: none), as sent
	// or as the last edit left it.
	Keyboard [][]Button
	// Edits counts the accepted edits of the message (text or markup).
	Edits int
}

// Response scripts one answer. Status 0 or 200 means "handle the request as
// Telegram would"; any other status is answered as an API error without
// looking at the body. Delay is slept before answering; it ends early when
// the client goes away or the server closes, and then nothing is recorded.
//
// AnswerDelay and CutBody act after the request was handled: a message it
// sent stays sent whatever the client sees, as with Telegram (or a proxy in
// front of it) taking a message and then answering late, or losing the
// connection while it answers.
type Response struct {
	Status          int
	Description     string
	RetryAfter      int
	MigrateToChatID int64
	Delay           time.Duration
	// AnswerDelay holds the answer back this long after the request was
	// handled; a client that gives up meanwhile gets no answer.
	AnswerDelay time.Duration
	// CutBody sends the answer's status line and headers, with the length
	// of the whole body, then half of the body, and closes the connection.
	CutBody bool
}

// Server is the fake API. It is safe for concurrent use.
type Server struct {
	token string
	srv   *httptest.Server
	done  chan struct{}
	once  sync.Once

	mu       sync.Mutex
	messages []Message
	byChat   map[string]*chat
	requests int
	queue    []Response
	def      Response
	migrated map[string]int64 // a group's id → its supergroup's
	upd      updateState      // getUpdates and what answers updates (updates.go)
}

// chat is what the server knows of one chat: its next message_id and where
// each of its messages is in Server.messages.
type chat struct {
	lastID int64
	index  map[int64]int
}

// New starts a server (plain HTTP) that accepts requests for token only and
// closes it on tb.Cleanup.
func New(tb testing.TB, token string) *Server {
	tb.Helper()
	s := newServer(token)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// NewTLS is New over HTTPS with a certificate of its own, which clients trust
// through Certificate.
func NewTLS(tb testing.TB, token string) *Server {
	tb.Helper()
	s := newServer(token)
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	// A client that refuses the certificate is what some tests check; the
	// server's log line about it is noise.
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.StartTLS()
	tb.Cleanup(s.Close)
	return s
}

func newServer(token string) *Server {
	return &Server{token: token, done: make(chan struct{}), byChat: map[string]*chat{}, migrated: map[string]int64{}}
}

// Migrate upgrades the group from to the supergroup to, as Telegram does
// when a group gets topics or a public link: from then on every request
// naming from is refused with 400 and migrate_to_chat_id, and to is a chat
// of its own, whose message_ids start again at 1.
func (s *Server) Migrate(from string, to int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.migrated[from] = to
}

// URL is the base URL to use as the client's api_url.
func (s *Server) URL() string { return s.srv.URL }

// Certificate is the certificate of a server started by NewTLS (nil for New).
func (s *Server) Certificate() *x509.Certificate { return s.srv.Certificate() }

// Close stops the server; later requests get "connection refused". Requests
// waiting on a Delay end at once. Safe to call more than once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.done)
		s.srv.Close()
	})
}

// Messages returns the accepted messages of every chat, in the order they
// were sent.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Requests counts every Bot API request seen, accepted or not.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Enqueue adds scripted answers, used in order before the default.
func (s *Server) Enqueue(r ...Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, r...)
}

// SetDefault sets the answer used when the queue is empty (initially: handle
// the request).
func (s *Server) SetDefault(r Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.def = r
}

// Delete deletes a message as a chat's member would: replies to it and edits
// of it then fail as they do in Telegram. It reports whether the message
// existed.
func (s *Server) Delete(chatID string, messageID int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.find(chatID, messageID)
	if ok {
		s.messages[i].Deleted = true
	}
	return ok
}

// find returns the index of a message that exists and is not deleted.
func (s *Server) find(chatID string, messageID int64) (int, bool) {
	c := s.byChat[chatID]
	if c == nil {
		return 0, false
	}
	i, ok := c.index[messageID]
	if !ok || s.messages[i].Deleted {
		return 0, false
	}
	return i, true
}

// request holds the parameters of sendMessage and editMessageText. Unknown
// top-level parameters are ignored, as Telegram does.
type request struct {
	ChatID                   json.RawMessage `json:"chat_id"`
	MessageID                int64           `json:"message_id"`
	Text                     *string         `json:"text"`
	ParseMode                string          `json:"parse_mode"`
	DisableNotification      bool            `json:"disable_notification"`
	DisableWebPagePreview    bool            `json:"disable_web_page_preview"`
	MessageThreadID          int64           `json:"message_thread_id"`
	ReplyToMessageID         int64           `json:"reply_to_message_id"`
	AllowSendingWithoutReply bool            `json:"allow_sending_without_reply"`
	ReplyParameters          json.RawMessage `json:"reply_parameters"`
	LinkPreviewOptions       *struct {
		IsDisabled bool `json:"is_disabled"`
	} `json:"link_preview_options"`
	ReplyMarkup json.RawMessage `json:"reply_markup"`
}

// replyParameters is Telegram's ReplyParameters object, every documented
// field, so that anything else is refused.
type replyParameters struct {
	MessageID                *int64          `json:"message_id"`
	ChatID                   json.RawMessage `json:"chat_id"`
	AllowSendingWithoutReply bool            `json:"allow_sending_without_reply"`
	Quote                    string          `json:"quote"`
	QuoteParseMode           string          `json:"quote_parse_mode"`
	QuoteEntities            json.RawMessage `json:"quote_entities"`
	QuotePosition            int             `json:"quote_position"`
	ChecklistTaskID          int             `json:"checklist_task_id"`
}

// apiError is an answer other than ok.
type apiError struct {
	status int
	desc   string
}

func badRequest(format string, a ...any) *apiError {
	return &apiError{http.StatusBadRequest, "Bad Request: " + fmt.Sprintf(format, a...)}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	// Paths look like /bot<token>/<method>; Telegram's method names are
	// case-insensitive.
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	if !ok {
		writeError(w, Response{Status: http.StatusNotFound, Description: "Not Found"})
		return
	}
	token, method, _ := strings.Cut(rest, "/")
	method = strings.ToLower(method)
	update := s.updateMethod(method)
	if update == nil && method != "sendmessage" && method != "editmessagetext" {
		writeError(w, Response{Status: http.StatusNotFound, Description: "Not Found"})
		return
	}

	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	if token != s.token {
		writeError(w, Response{Status: http.StatusUnauthorized, Description: "Unauthorized"})
		return
	}
	if update != nil {
		update(w, r)
		return
	}

	s.mu.Lock()
	resp := s.def
	if len(s.queue) > 0 {
		resp = s.queue[0]
		s.queue = s.queue[1:]
	}
	s.mu.Unlock()

	if !s.pause(r, resp.Delay) {
		return
	}
	if resp.Status != 0 && resp.Status != http.StatusOK {
		writeError(w, resp)
		return
	}

	req, chatID, apiErr := decode(r)
	if apiErr == nil {
		s.mu.Lock()
		to, gone := s.migrated[chatID]
		s.mu.Unlock()
		if gone {
			writeError(w, Response{Status: http.StatusBadRequest, Description: ChatMigrated, MigrateToChatID: to})
			return
		}
		var result map[string]any
		if method == "sendmessage" {
			result, apiErr = s.send(req, chatID)
		} else {
			result, apiErr = s.edit(req, chatID)
		}
		if apiErr == nil {
			s.answer(w, r, resp, map[string]any{"ok": true, "result": result})
			return
		}
	}
	writeError(w, Response{Status: apiErr.status, Description: apiErr.desc})
}

// pause waits d, and tells false when the request or the server ends first.
func (s *Server) pause(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.done:
		return false
	}
}

// answer writes the answer to a request that was handled, late or cut off
// when resp says so.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, resp Response, body map[string]any) {
	if !s.pause(r, resp.AnswerDelay) {
		return
	}
	if !resp.CutBody {
		writeJSON(w, http.StatusOK, body)
		return
	}
	raw, _ := json.Marshal(body) // plain types: always encodes
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(fmt.Sprintf("botapitest: cutting the answer: %v", err)) // httptest's server always hijacks
	}
	defer func() { _ = conn.Close() }()
	// Write errors end in the client's read error, which is the point.
	_, _ = fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(raw))
	_, _ = buf.Write(raw[:len(raw)/2])
	_ = buf.Flush() // the connection closes next: the client sees the body end early
}

// decode reads and checks what both methods share: the body, the chat and
// the text.
func decode(r *http.Request) (*request, string, *apiError) {
	if r.Method != http.MethodPost {
		return nil, "", badRequest("this fake wants POST")
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return nil, "", badRequest("want a JSON body, got Content-Type %q", ct)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, "", badRequest("reading body: %v", err)
	}
	var req request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		return nil, "", badRequest("invalid JSON: %v", err)
	}
	chatID, err := parseChatID(req.ChatID)
	if err != nil {
		return nil, "", badRequest("%v", err)
	}
	if req.Text == nil {
		return nil, "", badRequest("message text is empty")
	}
	text := *req.Text
	if !utf8.ValidString(text) {
		return nil, "", badRequest("text must be encoded in UTF-8")
	}
	switch strings.ToLower(req.ParseMode) {
	case "":
	case "html":
		if err := ValidateHTML(text); err != nil {
			return nil, "", badRequest("can't parse entities: %v", err)
		}
	default:
		return nil, "", badRequest("unsupported parse_mode %q", req.ParseMode)
	}
	visible := VisibleText(text, req.ParseMode)
	if strings.TrimSpace(visible) == "" {
		return nil, "", badRequest("message text is empty")
	}
	if utf8.RuneCountInString(visible) > MaxTextRunes {
		return nil, "", &apiError{http.StatusBadRequest, MessageTooLong}
	}
	return &req, chatID, nil
}

// replyTarget returns the message_id a sendMessage replies to (0: none), and
// whether a missing target may be ignored.
func (req *request) replyTarget(chatID string) (int64, bool, *apiError) {
	if len(req.ReplyParameters) == 0 || string(req.ReplyParameters) == "null" {
		return req.ReplyToMessageID, req.AllowSendingWithoutReply, nil
	}
	var p replyParameters
	dec := json.NewDecoder(bytes.NewReader(req.ReplyParameters))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return 0, false, badRequest("can't parse reply parameters JSON object: %v", err)
	}
	if p.MessageID == nil {
		return 0, false, badRequest("reply parameters: message_id is required")
	}
	if len(p.ChatID) > 0 {
		other, err := parseChatID(p.ChatID)
		if err != nil || other != chatID {
			return 0, false, badRequest("this fake does not reply across chats")
		}
	}
	if p.Quote != "" || len(p.QuoteEntities) > 0 || p.ChecklistTaskID != 0 {
		return 0, false, badRequest("this fake does not support quotes or checklist tasks")
	}
	return *p.MessageID, p.AllowSendingWithoutReply, nil
}

func (s *Server) send(req *request, chatID string) (map[string]any, *apiError) {
	replyTo, allowMissing, apiErr := req.replyTarget(chatID)
	if apiErr != nil {
		return nil, apiErr
	}
	keyboard, apiErr := parseKeyboard(req.ReplyMarkup)
	if apiErr != nil {
		return nil, apiErr
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if replyTo != 0 {
		if _, ok := s.find(chatID, replyTo); !ok {
			if !allowMissing {
				return nil, &apiError{http.StatusBadRequest, ReplyNotFound}
			}
			replyTo = 0
		}
	}
	c := s.byChat[chatID]
	if c == nil {
		c = &chat{index: map[int64]int{}}
		s.byChat[chatID] = c
	}
	c.lastID++
	msg := Message{
		ChatID:              chatID,
		MessageID:           c.lastID,
		Text:                *req.Text,
		ParseMode:           req.ParseMode,
		DisableNotification: req.DisableNotification,
		LinkPreviewDisabled: req.DisableWebPagePreview || (req.LinkPreviewOptions != nil && req.LinkPreviewOptions.IsDisabled),
		MessageThreadID:     req.MessageThreadID,
		ReplyTo:             replyTo,
		Keyboard:            keyboard,
	}
	c.index[msg.MessageID] = len(s.messages)
	s.messages = append(s.messages, msg)
	return result(msg, msg.Text, msg.ParseMode), nil
}

func (s *Server) edit(req *request, chatID string) (map[string]any, *apiError) {
	// Without reply_markup an edit removes the keyboard, as in Telegram.
	keyboard, apiErr := parseKeyboard(req.ReplyMarkup)
	if apiErr != nil {
		return nil, apiErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.find(chatID, req.MessageID)
	if !ok {
		return nil, &apiError{http.StatusBadRequest, EditNotFound}
	}
	msg := &s.messages[i]
	current, currentMode := msg.Text, msg.ParseMode
	if msg.EditedText != "" {
		current = msg.EditedText
	}
	if *req.Text == current && strings.EqualFold(req.ParseMode, currentMode) && sameKeyboard(keyboard, msg.Keyboard) {
		return nil, &apiError{http.StatusBadRequest, NotModified}
	}
	msg.EditedText = *req.Text
	msg.ParseMode = req.ParseMode
	msg.Keyboard = keyboard
	msg.Edits++
	out := result(*msg, msg.EditedText, msg.ParseMode)
	out["edit_date"] = time.Now().Unix()
	return out, nil
}

// result is the Message object Telegram returns: its text is the visible
// text, without the markup.
func result(m Message, text, parseMode string) map[string]any {
	var chatID any = m.ChatID
	if n, err := strconv.ParseInt(m.ChatID, 10, 64); err == nil {
		chatID = n
	}
	out := map[string]any{
		"message_id": m.MessageID,
		"date":       time.Now().Unix(),
		"chat":       map[string]any{"id": chatID},
		"text":       VisibleText(text, parseMode),
	}
	if m.ReplyTo != 0 {
		out["reply_to_message"] = map[string]any{"message_id": m.ReplyTo}
	}
	return out
}

func parseChatID(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", errors.New("chat_id is empty")
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("invalid chat_id: %w", err)
	}
	switch v := v.(type) {
	case json.Number:
		if _, err := v.Int64(); err != nil {
			return "", fmt.Errorf("invalid chat_id %s", v)
		}
		return v.String(), nil
	case string:
		if v == "" {
			return "", errors.New("chat_id is empty")
		}
		return v, nil
	default:
		return "", fmt.Errorf("invalid chat_id %s", raw)
	}
}

func defaultDescription(status, retryAfter int) string {
	switch status {
	case http.StatusTooManyRequests:
		return fmt.Sprintf("Too Many Requests: retry after %d", retryAfter)
	case http.StatusForbidden:
		return "Forbidden: bot was blocked by the user"
	case http.StatusBadRequest:
		return "Bad Request: chat not found"
	case http.StatusUnauthorized:
		return "Unauthorized"
	case http.StatusNotFound:
		return "Not Found"
	}
	return http.StatusText(status)
}

func writeError(w http.ResponseWriter, r Response) {
	desc := r.Description
	if desc == "" {
		desc = defaultDescription(r.Status, r.RetryAfter)
	}
	body := map[string]any{"ok": false, "error_code": r.Status, "description": desc}
	params := map[string]any{}
	if r.RetryAfter > 0 {
		params["retry_after"] = r.RetryAfter
	}
	if r.MigrateToChatID != 0 {
		params["migrate_to_chat_id"] = r.MigrateToChatID
	}
	if len(params) > 0 {
		body["parameters"] = params
	}
	writeJSON(w, r.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
