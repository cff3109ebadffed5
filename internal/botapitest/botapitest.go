// Package botapitest is a fake Telegram Bot API for tests: an httptest server
// on 127.0.0.1 that implements sendMessage's contract closely enough that a
// client passing against it also passes against the real API.
//
// It is deliberately a little stricter than Telegram where that costs nothing:
// the 4096-character limit is counted on the raw text (Telegram counts after
// entity parsing), and a bare '&' that does not start an entity is rejected.
package botapitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// MaxTextRunes is sendMessage's limit on the text, in characters.
const MaxTextRunes = 4096

// Message is one sendMessage request the server accepted.
type Message struct {
	ChatID              string
	Text                string
	ParseMode           string
	DisableNotification bool
	LinkPreviewDisabled bool
	MessageThreadID     int64
}

// Response scripts one answer. Status 0 or 200 means "accept the message if it
// is valid"; any other status is answered as an API error without looking at
// the body. Delay is slept before answering; it ends early when the client
// goes away or the server closes, and then nothing is recorded.
type Response struct {
	Status      int
	Description string
	RetryAfter  int
	Delay       time.Duration
}

// Server is the fake API. It is safe for concurrent use.
type Server struct {
	token string
	srv   *httptest.Server
	done  chan struct{}
	once  sync.Once

	mu       sync.Mutex
	messages []Message
	requests int
	queue    []Response
	def      Response
	nextID   int64
}

// New starts a server that accepts requests for token only and closes it on
// tb.Cleanup.
func New(tb testing.TB, token string) *Server {
	tb.Helper()
	s := &Server{token: token, done: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// URL is the base URL to use as the client's api_url.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server; later requests get "connection refused". Requests
// waiting on a Delay end at once. Safe to call more than once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.done)
		s.srv.Close()
	})
}

// Messages returns the accepted messages, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Requests counts every sendMessage request seen, accepted or not.
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

// SetDefault sets the answer used when the queue is empty (initially OK).
func (s *Server) SetDefault(r Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.def = r
}

type sendMessageRequest struct {
	ChatID                json.RawMessage `json:"chat_id"`
	Text                  *string         `json:"text"`
	ParseMode             string          `json:"parse_mode"`
	DisableNotification   bool            `json:"disable_notification"`
	DisableWebPagePreview bool            `json:"disable_web_page_preview"`
	MessageThreadID       int64           `json:"message_thread_id"`
	LinkPreviewOptions    *struct {
		IsDisabled bool `json:"is_disabled"`
	} `json:"link_preview_options"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	// Paths look like /bot<token>/<method>.
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found", 0)
		return
	}
	token, method, _ := strings.Cut(rest, "/")
	if method != "sendMessage" {
		writeError(w, http.StatusNotFound, "Not Found", 0)
		return
	}

	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	if token != s.token {
		writeError(w, http.StatusUnauthorized, "Unauthorized", 0)
		return
	}

	s.mu.Lock()
	resp := s.def
	if len(s.queue) > 0 {
		resp = s.queue[0]
		s.queue = s.queue[1:]
	}
	s.mu.Unlock()

	if resp.Delay > 0 {
		t := time.NewTimer(resp.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}

	if resp.Status != 0 && resp.Status != http.StatusOK {
		desc := resp.Description
		if desc == "" {
			desc = defaultDescription(resp.Status, resp.RetryAfter)
		}
		writeError(w, resp.Status, desc, resp.RetryAfter)
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusBadRequest, "Bad Request: sendMessage wants POST", 0)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Bad Request: want a JSON body, got Content-Type %q", ct), 0)
		return
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request: reading body: "+err.Error(), 0)
		return
	}
	var req sendMessageRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request: invalid JSON: "+err.Error(), 0)
		return
	}
	chatID, err := parseChatID(req.ChatID)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request: "+err.Error(), 0)
		return
	}
	if req.Text == nil || strings.TrimSpace(*req.Text) == "" {
		writeError(w, http.StatusBadRequest, "Bad Request: message text is empty", 0)
		return
	}
	text := *req.Text
	if !utf8.ValidString(text) {
		writeError(w, http.StatusBadRequest, "Bad Request: text must be encoded in UTF-8", 0)
		return
	}
	if utf8.RuneCountInString(text) > MaxTextRunes {
		writeError(w, http.StatusBadRequest, "Bad Request: message is too long", 0)
		return
	}
	switch strings.ToLower(req.ParseMode) {
	case "":
	case "html":
		if err := ValidateHTML(text); err != nil {
			writeError(w, http.StatusBadRequest, "Bad Request: can't parse entities: "+err.Error(), 0)
			return
		}
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Bad Request: unsupported parse_mode %q", req.ParseMode), 0)
		return
	}

	msg := Message{
		ChatID:              chatID,
		Text:                text,
		ParseMode:           req.ParseMode,
		DisableNotification: req.DisableNotification,
		LinkPreviewDisabled: req.DisableWebPagePreview || (req.LinkPreviewOptions != nil && req.LinkPreviewOptions.IsDisabled),
		MessageThreadID:     req.MessageThreadID,
	}
	s.mu.Lock()
	s.nextID++
	id := s.nextID
	s.messages = append(s.messages, msg)
	s.mu.Unlock()

	var chat any = chatID
	if n, err := strconv.ParseInt(chatID, 10, 64); err == nil {
		chat = n
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ok": true,
		"result": map[string]any{
			"message_id": id,
			"date":       time.Now().Unix(),
			"chat":       map[string]any{"id": chat},
			"text":       text,
		},
	})
}

func parseChatID(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", fmt.Errorf("chat_id is empty")
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
			return "", fmt.Errorf("chat_id is empty")
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

func writeError(w http.ResponseWriter, status int, desc string, retryAfter int) {
	body := map[string]any{"ok": false, "error_code": status, "description": desc}
	if retryAfter > 0 {
		body["parameters"] = map[string]any{"retry_after": retryAfter}
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
