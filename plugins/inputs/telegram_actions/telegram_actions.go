//go:generate go tool readme_config_includer

// Package telegram_actions is a Telegraf service input that long-polls the
// Bot API for the presses of the buttons outputs.telegram puts under an
// alert, and for /status, and emits each as a procblocking_action metric
// for processors.alertstate.
package telegram_actions

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	httpconfig "github.com/influxdata/telegraf/plugins/common/http"
	"github.com/influxdata/telegraf/plugins/inputs"

	"github.com/procblocking/procblocking/internal/botapi"
	"github.com/procblocking/procblocking/internal/statedir"
)

//go:embed sample.conf
var sampleConfig string

// maxPollTimeout is the longest long poll Telegram holds.
const maxPollTimeout = 50 * time.Second

// TelegramActions polls a bot's updates for actions on alerts.
type TelegramActions struct {
	Token        config.Secret   `toml:"token"`
	ChatID       string          `toml:"chat_id"`
	AllowedUsers []int64         `toml:"allowed_users"`
	Language     string          `toml:"language"`
	PollTimeout  config.Duration `toml:"poll_timeout"`
	Timeout      config.Duration `toml:"timeout"`
	OffsetFile   string          `toml:"offset_file"`
	APIURL       string          `toml:"api_url"`
	httpconfig.TransportConfig
	Log telegraf.Logger `toml:"-"`
	// TestRun is set by telegraf-procblocking for --test: Start polls
	// nothing, so that the running agent keeps the bot's updates.
	TestRun bool `toml:"-"`

	allowed map[int64]bool
	texts   answers
	now     func() time.Time // tests replace it

	client   *client
	offset   *offsetFile
	botName  string // from getMe: /status@botName is ours
	release  func()
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	failures pollFailures
}

func (*TelegramActions) SampleConfig() string { return sampleConfig }

func (t *TelegramActions) Init() error {
	if err := botapi.CheckTokenAndChatID(&t.Token, t.ChatID); err != nil {
		return err
	}
	if len(t.AllowedUsers) == 0 {
		return errors.New("invalid 'allowed_users' []: list the Telegram user ids allowed to act (a press of anyone else is answered \"not allowed\" with their id)")
	}
	t.allowed = make(map[int64]bool, len(t.AllowedUsers))
	for _, id := range t.AllowedUsers {
		if id <= 0 {
			return fmt.Errorf("invalid 'allowed_users' entry \"%d\": a user id is a positive number", id)
		}
		t.allowed[id] = true
	}
	texts, ok := languages[t.Language]
	if !ok {
		return fmt.Errorf("invalid 'language' %q: want \"en\" or \"ru\"", t.Language)
	}
	t.texts = texts
	if err := botapi.CheckAPIURL(t.APIURL); err != nil {
		return err
	}
	if p := time.Duration(t.PollTimeout); p < time.Second || p > maxPollTimeout {
		return fmt.Errorf("invalid 'poll_timeout' %q: want 1s to %s", p, maxPollTimeout)
	}
	if time.Duration(t.Timeout) <= 0 {
		return fmt.Errorf("invalid 'timeout' %q: want a duration > 0", time.Duration(t.Timeout))
	}
	if rt := time.Duration(t.ResponseHeaderTimeout); rt > 0 && rt <= time.Duration(t.PollTimeout) {
		return fmt.Errorf("invalid 'response_timeout' %q: must be longer than 'poll_timeout' (%s), or every long poll times out",
			rt, time.Duration(t.PollTimeout))
	}
	if t.OffsetFile == "" {
		return errors.New(`invalid 'offset_file' "": without it a restart would replay presses`)
	}
	if fi, err := os.Stat(t.OffsetFile); err == nil && fi.IsDir() {
		return fmt.Errorf("invalid 'offset_file' %q: is a directory", t.OffsetFile)
	}
	if err := botapi.CheckTransport(&t.TransportConfig); err != nil {
		return err
	}
	if t.now == nil {
		t.now = time.Now
	}
	return nil
}

// Gather does nothing: the updates are polled in the background.
func (*TelegramActions) Gather(telegraf.Accumulator) error { return nil }

// Start claims the bot token for this agent, opens the offset file, checks
// that no webhook is set, and starts polling. An unreachable Telegram does
// not stop the start: the poll retries.
func (t *TelegramActions) Start(acc telegraf.Accumulator) error {
	if t.TestRun {
		return nil
	}
	secret, err := t.Token.Get()
	if err != nil {
		return fmt.Errorf("getting 'token': %w", err)
	}
	token := secret.String()
	secret.Destroy()
	if err := botapi.CheckTokenShape(token); err != nil {
		return err
	}
	botID, _, _ := strings.Cut(token, ":")
	release, err := claim(botID)
	if err != nil {
		return err
	}
	if t.offset, err = openOffsetFile(t.OffsetFile, t.Log); err != nil {
		release()
		return err
	}
	if t.client, err = t.newClient(); err != nil {
		t.offset.close()
		release()
		return err
	}
	t.release = release
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	if err := t.checkWebhook(ctx); err != nil {
		t.stop()
		return err
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.poll(ctx, acc)
	}()
	return nil
}

// checkWebhook refuses to start while the bot has a webhook: getUpdates
// cannot work then, and deleting it would break whatever set it.
func (t *TelegramActions) checkWebhook(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(t.Timeout))
	defer cancel()
	hook, err := t.client.webhookURL(ctx)
	if err != nil {
		t.Log.Warnf("Cannot check for a webhook (%v): polling anyway", err)
		return nil
	}
	if hook != "" {
		return webhookError(hook)
	}
	return nil
}

func webhookError(hook string) error {
	return fmt.Errorf("the bot has a webhook set (%s), so Telegram refuses getUpdates: if nothing else uses that webhook, "+
		"remove it by opening https://api.telegram.org/bot<token>/deleteWebhook (this plugin never removes it), or use another bot", redactURL(hook))
}

// redactURL shows a webhook's URL without its path and query, which often
// hold a secret.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "a URL"
	}
	return u.Scheme + "://" + u.Host + "/..."
}

func (t *TelegramActions) Stop() {
	t.stop()
}

func (t *TelegramActions) stop() {
	if t.cancel != nil {
		t.cancel()
		t.wg.Wait()
		t.cancel = nil
	}
	if t.client != nil {
		t.client.close()
		t.client = nil
	}
	if t.offset != nil {
		t.offset.close()
		t.offset = nil
	}
	if t.release != nil {
		t.release()
		t.release = nil
	}
}

// newClient builds the Bot API client on Telegraf's HTTP transport (proxy,
// TLS). The calls set their own deadline: a long poll holds the request.
func (t *TelegramActions) newClient() (*client, error) {
	api, err := botapi.NewClient(t.APIURL, &t.Token, t.TransportConfig, 0)
	if err != nil {
		return nil, err
	}
	return &client{api: api, timeout: time.Duration(t.Timeout)}, nil
}

func init() {
	inputs.Add("telegram_actions", func() telegraf.Input {
		t := &TelegramActions{
			Language:    "en",
			PollTimeout: config.Duration(maxPollTimeout),
			Timeout:     config.Duration(10 * time.Second),
			OffsetFile:  statedir.File("telegram_actions.json"),
			APIURL:      "https://api.telegram.org",
		}
		t.UseSystemProxy = true
		return t
	})
}
