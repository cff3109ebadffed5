package botapitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The updates side of the Bot API: getUpdates (a long poll, confirmed by
// offset), the updates a test makes (a button pressed, a command typed),
// answerCallbackQuery, editMessageReplyMarkup and the webhook that blocks
// getUpdates, each refused as Telegram refuses it.

// Descriptions of the updates side.
const (
	WebhookActive    = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
	PollTerminated   = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
	QueryInvalid     = "Bad Request: query is too old and response timeout expired or query ID is invalid"
	ButtonDataBad    = "Bad Request: BUTTON_DATA_INVALID"
	MaxCallbackRunes = 200 // answerCallbackQuery's text
	maxPollTimeout   = 50  // seconds; Telegram answers a longer poll no later
)

// Button is one button of an inline keyboard: a text and exactly one of
// CallbackData (1 to 64 bytes) and URL.
type Button struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data,omitempty"`
	URL          string `json:"url,omitempty"`
}

// User is who presses a button or types a command.
type User struct {
	ID        int64
	Username  string // without '@'; may be empty
	FirstName string
}

// Poll is one getUpdates request as the server got it.
type Poll struct {
	Offset         int64
	Limit          int
	Timeout        int // seconds, as requested
	AllowedUpdates []string
	Updates        int  // updates answered
	Conflict       bool // answered 409
}

// CallbackAnswer is one accepted answerCallbackQuery.
type CallbackAnswer struct {
	QueryID   string
	Text      string
	ShowAlert bool
}

type pendingUpdate struct {
	id   int64
	kind string // "callback_query", "message"
	body map[string]any
}

type activePoll struct {
	index      int           // in updateState.polls
	terminated chan struct{} // closed when a newer getUpdates takes over
}

// updateState is the server's updates side; Server.mu guards it.
type updateState struct {
	lastID    int64
	pending   []pendingUpdate
	changed   chan struct{} // closed and replaced when an update arrives
	active    *activePoll
	polls     []Poll
	allowed   []string // the last allowed_updates given; nil: all
	webhook   string
	deletes   int
	queries   map[string]bool // callback query id → answered
	lastQuery int64
	answers   []CallbackAnswer
}

func (u *updateState) signal() {
	if u.changed != nil {
		close(u.changed)
	}
	u.changed = make(chan struct{})
}

func (s *Server) updateMethod(method string) func(http.ResponseWriter, *http.Request) {
	switch method {
	case "getupdates":
		return s.getUpdates
	case "answercallbackquery":
		return s.answerCallbackQuery
	case "editmessagereplymarkup":
		return s.editMessageReplyMarkup
	case "getwebhookinfo":
		return s.getWebhookInfo
	case "setwebhook":
		return s.setWebhook
	case "deletewebhook":
		return s.deleteWebhook
	case "getme":
		return s.getMe
	}
	return nil
}

// decodeParams reads a JSON body into v; unknown parameters are ignored, as
// Telegram does. An empty body is no parameters.
func decodeParams(r *http.Request, v any) *apiError {
	if r.Method != http.MethodPost {
		return badRequest("this fake wants POST")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return badRequest("reading body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return badRequest("want a JSON body, got Content-Type %q", ct)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return badRequest("invalid JSON: %v", err)
	}
	return nil
}

func fail(w http.ResponseWriter, e *apiError) {
	writeError(w, Response{Status: e.status, Description: e.desc})
}

func ok(w http.ResponseWriter, result any) {
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": result})
}

func (s *Server) getUpdates(w http.ResponseWriter, r *http.Request) {
	var p struct {
		Offset         int64     `json:"offset"`
		Limit          int       `json:"limit"`
		Timeout        int       `json:"timeout"`
		AllowedUpdates *[]string `json:"allowed_updates"`
	}
	if e := decodeParams(r, &p); e != nil {
		fail(w, e)
		return
	}
	limit := p.Limit
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	wait := time.Duration(min(max(p.Timeout, 0), maxPollTimeout)) * time.Second

	s.mu.Lock()
	u := &s.upd
	poll := Poll{Offset: p.Offset, Limit: p.Limit, Timeout: p.Timeout}
	if p.AllowedUpdates != nil {
		u.allowed = slices.Clone(*p.AllowedUpdates)
		poll.AllowedUpdates = slices.Clone(*p.AllowedUpdates)
	}
	u.polls = append(u.polls, poll)
	me := &activePoll{index: len(u.polls) - 1, terminated: make(chan struct{})}
	if u.webhook != "" {
		u.polls[me.index].Conflict = true
		s.mu.Unlock()
		writeError(w, Response{Status: http.StatusConflict, Description: WebhookActive})
		return
	}
	if u.active != nil {
		close(u.active.terminated)
	}
	u.active = me
	u.confirm(p.Offset)
	s.mu.Unlock()

	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if u.active != me {
			u.polls[me.index].Conflict = true
			s.mu.Unlock()
			writeError(w, Response{Status: http.StatusConflict, Description: PollTerminated})
			return
		}
		out := u.deliverable(limit)
		if u.changed == nil {
			u.changed = make(chan struct{})
		}
		changed := u.changed
		if len(out) > 0 || wait == 0 {
			u.polls[me.index].Updates = len(out)
			u.active = nil
			s.mu.Unlock()
			ok(w, out)
			return
		}
		s.mu.Unlock()
		select {
		case <-changed:
			continue
		case <-me.terminated:
			continue
		case <-deadline.C:
			wait = 0
			continue
		case <-r.Context().Done():
		case <-s.done:
		}
		s.mu.Lock()
		if u.active == me {
			u.active = nil
		}
		s.mu.Unlock()
		return
	}
}

// confirm forgets the updates before offset; a negative offset keeps the
// last -offset updates only, as Telegram does.
func (u *updateState) confirm(offset int64) {
	switch {
	case offset > 0:
		u.pending = slices.DeleteFunc(u.pending, func(p pendingUpdate) bool { return p.id < offset })
	case offset < 0:
		if keep := int(-offset); keep < len(u.pending) {
			u.pending = slices.Delete(u.pending, 0, len(u.pending)-keep)
		}
	}
}

// deliverable drops the pending updates of kinds allowed_updates left out
// (Telegram never sends them) and returns up to limit of the others.
func (u *updateState) deliverable(limit int) []map[string]any {
	if len(u.allowed) > 0 {
		u.pending = slices.DeleteFunc(u.pending, func(p pendingUpdate) bool { return !slices.Contains(u.allowed, p.kind) })
	}
	var out []map[string]any
	for _, p := range u.pending[:min(limit, len(u.pending))] {
		out = append(out, map[string]any{"update_id": p.id, p.kind: p.body})
	}
	return out
}

func (u *updateState) add(kind string, body map[string]any) int64 {
	u.lastID++
	u.pending = append(u.pending, pendingUpdate{id: u.lastID, kind: kind, body: body})
	u.signal()
	return u.lastID
}

func userObject(from User) map[string]any {
	o := map[string]any{"id": from.ID, "is_bot": false, "first_name": from.FirstName}
	if from.FirstName == "" {
		o["first_name"] = "User"
	}
	if from.Username != "" {
		o["username"] = from.Username
	}
	return o
}

func chatObject(chatID string) map[string]any {
	if n, err := strconv.ParseInt(chatID, 10, 64); err == nil {
		typ := "private"
		if n < 0 {
			typ = "supergroup"
		}
		return map[string]any{"id": n, "type": typ}
	}
	return map[string]any{"id": int64(-1000000000001), "type": "channel", "username": strings.TrimPrefix(chatID, "@")}
}

// Press makes from press the button with callback data data under a message
// the server sent: a callback_query update for getUpdates. It returns the
// query's id, which answerCallbackQuery must name. A press on a message
// that is gone or has no such button is a mistake of the test.
func (s *Server) Press(chatID string, messageID int64, from User, data string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, found := s.find(chatID, messageID)
	if !found {
		return "", fmt.Errorf("no message %d in chat %s", messageID, chatID)
	}
	msg := s.messages[i]
	has := false
	for _, row := range msg.Keyboard {
		for _, b := range row {
			has = has || b.CallbackData == data
		}
	}
	if !has {
		return "", fmt.Errorf("message %d in chat %s has no button with callback_data %q", messageID, chatID, data)
	}
	u := &s.upd
	if u.queries == nil {
		u.queries = map[string]bool{}
	}
	u.lastQuery++
	id := strconv.FormatInt(4_000_000_000_000_000+u.lastQuery, 10)
	u.queries[id] = false
	text := msg.Text
	if msg.EditedText != "" {
		text = msg.EditedText
	}
	u.add("callback_query", map[string]any{
		"id":            id,
		"from":          userObject(from),
		"chat_instance": "-4242",
		"data":          data,
		"message": map[string]any{
			"message_id": msg.MessageID,
			"date":       time.Now().Unix(),
			"chat":       chatObject(chatID),
			"text":       VisibleText(text, msg.ParseMode),
		},
	})
	return id, nil
}

// Type makes from send text to the chat: a message update for getUpdates.
// A leading /command is marked as a bot_command entity, as Telegram does.
func (s *Server) Type(chatID string, from User, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.byChat[chatID]
	if c == nil {
		c = &chat{index: map[int64]int{}}
		s.byChat[chatID] = c
	}
	c.lastID++ // a member's message takes a message_id of the chat too
	body := map[string]any{
		"message_id": c.lastID,
		"date":       time.Now().Unix(),
		"from":       userObject(from),
		"chat":       chatObject(chatID),
		"text":       text,
	}
	if strings.HasPrefix(text, "/") {
		cmd, _, _ := strings.Cut(text, " ")
		body["entities"] = []map[string]any{{"type": "bot_command", "offset": 0, "length": utf8.RuneCountInString(cmd)}}
	}
	s.upd.add("message", body)
}

// Polls returns the getUpdates requests seen, in order.
func (s *Server) Polls() []Poll {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.upd.polls)
}

// CallbackAnswers returns the accepted answerCallbackQuery requests.
func (s *Server) CallbackAnswers() []CallbackAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.upd.answers)
}

// PendingUpdates counts the updates not confirmed yet.
func (s *Server) PendingUpdates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.upd.pending)
}

// WebhookDeletes counts deleteWebhook requests.
func (s *Server) WebhookDeletes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upd.deletes
}

func (s *Server) answerCallbackQuery(w http.ResponseWriter, r *http.Request) {
	var p struct {
		QueryID   string `json:"callback_query_id"`
		Text      string `json:"text"`
		ShowAlert bool   `json:"show_alert"`
	}
	if e := decodeParams(r, &p); e != nil {
		fail(w, e)
		return
	}
	if utf8.RuneCountInString(p.Text) > MaxCallbackRunes {
		fail(w, badRequest("MESSAGE_TOO_LONG"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	answered, known := s.upd.queries[p.QueryID]
	if !known || answered {
		fail(w, &apiError{http.StatusBadRequest, QueryInvalid})
		return
	}
	s.upd.queries[p.QueryID] = true
	s.upd.answers = append(s.upd.answers, CallbackAnswer{QueryID: p.QueryID, Text: p.Text, ShowAlert: p.ShowAlert})
	ok(w, true)
}

func (s *Server) editMessageReplyMarkup(w http.ResponseWriter, r *http.Request) {
	var p struct {
		ChatID      json.RawMessage `json:"chat_id"`
		MessageID   int64           `json:"message_id"`
		ReplyMarkup json.RawMessage `json:"reply_markup"`
	}
	if e := decodeParams(r, &p); e != nil {
		fail(w, e)
		return
	}
	chatID, err := parseChatID(p.ChatID)
	if err != nil {
		fail(w, badRequest("%v", err))
		return
	}
	keyboard, e := parseKeyboard(p.ReplyMarkup)
	if e != nil {
		fail(w, e)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, found := s.find(chatID, p.MessageID)
	if !found {
		fail(w, &apiError{http.StatusBadRequest, EditNotFound})
		return
	}
	msg := &s.messages[i]
	if sameKeyboard(keyboard, msg.Keyboard) {
		fail(w, &apiError{http.StatusBadRequest, NotModified})
		return
	}
	msg.Keyboard = keyboard
	msg.Edits++
	text := msg.Text
	if msg.EditedText != "" {
		text = msg.EditedText
	}
	out := result(*msg, text, msg.ParseMode)
	out["edit_date"] = time.Now().Unix()
	ok(w, out)
}

func (s *Server) getWebhookInfo(w http.ResponseWriter, r *http.Request) {
	var p struct{}
	if e := decodeParams(r, &p); e != nil {
		fail(w, e)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ok(w, map[string]any{"url": s.upd.webhook, "has_custom_certificate": false, "pending_update_count": len(s.upd.pending)})
}

func (s *Server) setWebhook(w http.ResponseWriter, r *http.Request) {
	var p struct {
		URL *string `json:"url"`
	}
	if e := decodeParams(r, &p); e != nil {
		fail(w, e)
		return
	}
	if p.URL == nil {
		fail(w, badRequest("parameter \"url\" is required"))
		return
	}
	if *p.URL != "" && !strings.HasPrefix(*p.URL, "https://") {
		fail(w, badRequest("bad webhook: An HTTPS URL must be provided for webhook"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upd.webhook = *p.URL
	if s.upd.active != nil {
		// A waiting getUpdates is ended by the webhook, as in Telegram.
		close(s.upd.active.terminated)
		s.upd.active = nil
	}
	ok(w, true)
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	var p struct {
		DropPending bool `json:"drop_pending_updates"`
	}
	if e := decodeParams(r, &p); e != nil {
		fail(w, e)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upd.deletes++
	s.upd.webhook = ""
	if p.DropPending {
		s.upd.pending = nil
	}
	ok(w, true)
}

// parseKeyboard reads a reply_markup: absent or null is none; else it must
// be an inline keyboard whose every button has a text and exactly one of
// callback_data (1 to 64 bytes, Telegram's BUTTON_DATA_INVALID otherwise)
// and an http(s) url. Unknown fields are refused: a misspelt one would lose
// a button's action.
func parseKeyboard(raw json.RawMessage) ([][]Button, *apiError) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var markup struct {
		InlineKeyboard *[][]struct {
			Text         *string `json:"text"`
			CallbackData *string `json:"callback_data"`
			URL          *string `json:"url"`
		} `json:"inline_keyboard"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&markup); err != nil {
		return nil, badRequest("can't parse reply keyboard markup JSON object (this fake knows inline keyboards only): %v", err)
	}
	if markup.InlineKeyboard == nil {
		return nil, badRequest("can't parse inline keyboard: field \"inline_keyboard\" must be an Array")
	}
	var out [][]Button
	for _, row := range *markup.InlineKeyboard {
		if len(row) == 0 {
			return nil, badRequest("can't parse inline keyboard: a row is empty")
		}
		var buttons []Button
		for _, b := range row {
			if b.Text == nil || *b.Text == "" {
				return nil, badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
			}
			switch {
			case (b.CallbackData == nil) == (b.URL == nil):
				return nil, badRequest("can't parse inline keyboard button: want exactly one of callback_data and url")
			case b.CallbackData != nil && (len(*b.CallbackData) < 1 || len(*b.CallbackData) > 64):
				return nil, &apiError{http.StatusBadRequest, ButtonDataBad}
			case b.URL != nil && !strings.HasPrefix(*b.URL, "https://") && !strings.HasPrefix(*b.URL, "http://"):
				return nil, badRequest("BUTTON_URL_INVALID")
			}
			btn := Button{Text: *b.Text}
			if b.CallbackData != nil {
				btn.CallbackData = *b.CallbackData
			} else {
				btn.URL = *b.URL
			}
			buttons = append(buttons, btn)
		}
		out = append(out, buttons)
	}
	return out, nil
}

func sameKeyboard(a, b [][]Button) bool {
	return slices.EqualFunc(a, b, func(x, y []Button) bool { return slices.Equal(x, y) })
}

// BotUsername is the username getMe answers, as in /status@BotUsername.
const BotUsername = "procblocking_test_bot"

func (s *Server) getMe(w http.ResponseWriter, r *http.Request) {
	var p struct{}
	if e := decodeParams(r, &p); e != nil {
		fail(w, e)
		return
	}
	id, _ := strconv.ParseInt(strings.SplitN(s.token, ":", 2)[0], 10, 64)
	ok(w, map[string]any{"id": id, "is_bot": true, "first_name": "procblocking", "username": BotUsername})
}

// Client is an HTTP client for the server (it trusts NewTLS's certificate).
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Expire makes a press too old to answer, as Telegram does some seconds
// after it (while the poller was down, say): answerCallbackQuery of it is
// then refused with QueryInvalid.
func (s *Server) Expire(queryID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.upd.queries[queryID]; ok {
		s.upd.queries[queryID] = true
	}
}
