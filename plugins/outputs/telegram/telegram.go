// Package telegram is a Telegraf output that sends each alert event as one
// message through Telegram's Bot API.
package telegram

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/outputs"
)

//go:embed sample.conf
var sampleConfig string

// maxRemembered bounds the set of events delivered from batches Telegraf has
// not yet seen succeed; Telegraf's own buffer (10000 by default) keeps it
// far below in practice.
const maxRemembered = 100_000

// tokenRe is the shape of a bot token. Checking it keeps a stray '/', '?' or
// '#' from changing the request's URL.
var tokenRe = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]+$`)

// Telegram sends alert events to a Telegram chat.
type Telegram struct {
	Token           config.Secret   `toml:"token"`
	ChatID          string          `toml:"chat_id"`
	MessageThreadID int64           `toml:"message_thread_id"`
	APIURL          string          `toml:"api_url"`
	TextField       string          `toml:"text_field"`
	SilentEvents    []string        `toml:"silent_events"`
	Timeout         config.Duration `toml:"timeout"`
	MaxRetryWait    config.Duration `toml:"max_retry_wait"`
	Log             telegraf.Logger `toml:"-"`

	client *client
	pace   *pacer
	silent map[string]bool

	// delivered holds the identities of events sent (or deliberately
	// dropped) since the last Write that succeeded in full: Telegraf resends
	// the whole batch after an error, and these must not go out twice.
	delivered map[uint64]struct{}

	ctx    context.Context
	cancel context.CancelFunc
}

func (*Telegram) SampleConfig() string { return sampleConfig }

func (t *Telegram) Init() error {
	if t.Token.Empty() {
		return errors.New("'token' is required")
	}
	if strings.TrimSpace(t.ChatID) == "" {
		return errors.New("'chat_id' is required")
	}
	if !validChatID(t.ChatID) {
		return fmt.Errorf("invalid 'chat_id' %q: want a numeric id or @channelname", t.ChatID)
	}
	if t.MessageThreadID < 0 {
		return fmt.Errorf("invalid 'message_thread_id' %d: want 0 or a topic id", t.MessageThreadID)
	}
	u, err := url.Parse(t.APIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid 'api_url' %q: want an http or https URL", t.APIURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("invalid 'api_url' %q: want no query or fragment", t.APIURL)
	}
	if t.TextField == "" {
		return errors.New("'text_field' must not be empty")
	}
	if t.Timeout <= 0 {
		return fmt.Errorf("invalid 'timeout' %q: want a duration > 0", time.Duration(t.Timeout))
	}
	if t.MaxRetryWait < 0 {
		return fmt.Errorf("invalid 'max_retry_wait' %q: want a duration >= 0", time.Duration(t.MaxRetryWait))
	}

	t.silent = make(map[string]bool, len(t.SilentEvents))
	for _, e := range t.SilentEvents {
		t.silent[e] = true
	}
	t.client = newClient(t.APIURL, &t.Token, time.Duration(t.Timeout))
	t.pace = newPacer(t.ChatID)
	t.delivered = make(map[uint64]struct{})
	return nil
}

func validChatID(id string) bool {
	if name, ok := strings.CutPrefix(id, "@"); ok {
		return name != "" && !strings.ContainsAny(name, " \t\r\n/")
	}
	_, err := strconv.ParseInt(id, 10, 64)
	return err == nil
}

// Connect checks the token's shape; it does not call the API, so that an
// unreachable Telegram does not stop the agent (events wait in the buffer).
func (t *Telegram) Connect() error {
	secret, err := t.Token.Get()
	if err != nil {
		return fmt.Errorf("getting 'token': %w", err)
	}
	ok := tokenRe.Match(secret.Bytes())
	secret.Destroy()
	if !ok {
		return errors.New("invalid 'token': want the form <bot id>:<secret> from @BotFather")
	}
	if t.cancel != nil {
		t.cancel()
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	return nil
}

func (t *Telegram) Close() error {
	if t.cancel != nil {
		t.cancel()
	}
	if t.client != nil {
		t.client.close()
	}
	return nil
}

// Write sends one message per event, in order. It returns an error, and
// Telegraf keeps the batch, when Telegram cannot be reached or fails; events
// of the batch already delivered are skipped when the batch comes again.
func (t *Telegram) Write(metrics []telegraf.Metric) error {
	ctx := t.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	for _, m := range metrics {
		id := identity(m)
		if _, done := t.delivered[id]; done {
			continue
		}
		if err := t.deliver(ctx, m); err != nil {
			return err
		}
		if len(t.delivered) >= maxRemembered {
			t.Log.Warnf("forgetting %d delivered events of unfinished batches; some may be sent again", len(t.delivered))
			clear(t.delivered)
		}
		t.delivered[id] = struct{}{}
	}
	clear(t.delivered)
	return nil
}

// deliver sends one event. It returns nil when the event was delivered or
// had to be dropped, and an error when the batch must be retried.
func (t *Telegram) deliver(ctx context.Context, m telegraf.Metric) error {
	raw, ok := m.GetField(t.TextField)
	text, isString := raw.(string)
	if !ok || !isString {
		t.Log.Errorf("dropping %q metric: no string field %q to send", m.Name(), t.TextField)
		return nil
	}
	event, _ := m.GetTag("event")

	req := &sendMessageRequest{
		ChatID:              t.ChatID,
		Text:                formatHTML(event, text),
		ParseMode:           "HTML",
		DisableNotification: t.silent[event],
		LinkPreviewOptions:  &linkPreviewOptions{IsDisabled: true},
		MessageThreadID:     t.MessageThreadID,
	}
	err := t.send(ctx, req)

	var apiErr *apiError
	if errors.As(err, &apiErr) && apiErr.parseError() {
		t.Log.Warnf("chat %q: Telegram refused the HTML (%s); sending the %q event as plain text", t.ChatID, apiErr.Description, event)
		req.Text = formatPlain(event, text)
		req.ParseMode = ""
		err = t.send(ctx, req)
	}
	if errors.As(err, &apiErr) && apiErr.dropped() {
		t.Log.Errorf("dropping %q event for chat %q: %s (HTTP %d)", event, t.ChatID, apiErr.Description, apiErr.Code)
		return nil
	}
	if err != nil {
		return fmt.Errorf("sending %q event to chat %q: %w", event, t.ChatID, err)
	}
	return nil
}

// send paces and posts one request, waiting out 429 answers while the total
// wait stays within max_retry_wait.
func (t *Telegram) send(ctx context.Context, req *sendMessageRequest) error {
	var waited time.Duration
	for {
		if err := t.pace.wait(ctx); err != nil {
			return err
		}
		err := t.client.sendMessage(ctx, req)
		var apiErr *apiError
		if !errors.As(err, &apiErr) || apiErr.Code != 429 {
			return err
		}
		wait := max(apiErr.RetryAfter, time.Second)
		if waited+wait > time.Duration(t.MaxRetryWait) {
			return fmt.Errorf("rate limited: retry_after %s would exceed 'max_retry_wait' %s: %w",
				wait, time.Duration(t.MaxRetryWait), err)
		}
		t.Log.Debugf("chat %q: rate limited, retrying after %s", t.ChatID, wait)
		if err := t.pace.sleep(ctx, wait); err != nil {
			return err
		}
		waited += wait
	}
}

// identity hashes what makes an event unique: name, tags, fields and time.
func identity(m telegraf.Metric) uint64 {
	h := fnv.New64a()
	write := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	write(m.Name())
	for _, tag := range m.TagList() {
		write(tag.Key)
		write(tag.Value)
	}
	fields := slices.Clone(m.FieldList())
	slices.SortFunc(fields, func(a, b *telegraf.Field) int { return strings.Compare(a.Key, b.Key) })
	for _, f := range fields {
		write(f.Key)
		write(fieldString(f.Value))
	}
	write(strconv.FormatInt(m.Time().UnixNano(), 10))
	return h.Sum64()
}

func fieldString(v any) string {
	switch v := v.(type) {
	case float64:
		return "f" + strconv.FormatUint(math.Float64bits(v), 16)
	case string:
		return "s" + v
	default:
		return fmt.Sprintf("%T%v", v, v)
	}
}

func init() {
	outputs.Add("telegram", func() telegraf.Output {
		return &Telegram{
			APIURL:       "https://api.telegram.org",
			TextField:    "message",
			SilentEvents: []string{"realert", "recovery"},
			Timeout:      config.Duration(10 * time.Second),
			MaxRetryWait: config.Duration(10 * time.Second),
		}
	})
}
