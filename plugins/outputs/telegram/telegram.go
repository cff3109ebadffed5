//go:generate go tool readme_config_includer

// Package telegram is a Telegraf output that sends alert events to a
// Telegram chat through the Bot API.
package telegram

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	httpconfig "github.com/influxdata/telegraf/plugins/common/http"
	"github.com/influxdata/telegraf/plugins/outputs"

	"github.com/procblocking/procblocking/internal/botapi"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/botclient"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/queue"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/threads"
)

//go:embed sample.conf
var sampleConfig string

// Telegram sends alert events to a Telegram chat.
type Telegram struct {
	Token               config.Secret   `toml:"token"`
	ChatID              string          `toml:"chat_id"`
	MessageThreadID     int64           `toml:"message_thread_id"`
	APIURL              string          `toml:"api_url"`
	TextField           string          `toml:"text_field"`
	SilentEvents        []string        `toml:"silent_events"`
	Timeout             config.Duration `toml:"timeout"`
	MaxRetryWait        config.Duration `toml:"max_retry_wait"`
	StateDirectory      string          `toml:"state_directory"`
	CloseTimeout        config.Duration `toml:"close_timeout"`
	ThreadReplies       bool            `toml:"thread_replies"`
	EditAlertOnRecovery bool            `toml:"edit_alert_on_recovery"`
	Buttons             bool            `toml:"buttons"`
	Language            string          `toml:"language"`
	// Telegraf's HTTP transport options: use_system_proxy, http_proxy_url,
	// tls_ca, tls_cert, tls_key, insecure_skip_verify, ...
	httpconfig.TransportConfig
	Log telegraf.Logger `toml:"-"`

	// The clock; tests replace it before Connect.
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
	after func(time.Duration) <-chan time.Time

	state  *queue.Dir // nil without a state directory or when it is unusable
	queue  *queue.Queue
	client *botclient.Client
	sender *sender
	cancel context.CancelFunc
	drain  chan struct{} // closed by Close: deliver what is queued, then stop
	done   chan struct{} // closed when the sender has stopped
}

func (*Telegram) SampleConfig() string { return sampleConfig }

func (t *Telegram) Init() error {
	if err := botapi.CheckTokenAndChatID(&t.Token, t.ChatID); err != nil {
		return err
	}
	if t.MessageThreadID < 0 {
		return fmt.Errorf(`invalid 'message_thread_id' "%d": want 0 or a topic id`, t.MessageThreadID)
	}
	if err := botapi.CheckAPIURL(t.APIURL); err != nil {
		return err
	}
	if t.TextField == "" {
		return errors.New(`invalid 'text_field' "": want the name of the string field to send`)
	}
	for _, d := range []struct {
		name string
		v    config.Duration
		min  time.Duration
	}{{"timeout", t.Timeout, 1}, {"max_retry_wait", t.MaxRetryWait, 0}, {"close_timeout", t.CloseTimeout, 0}} {
		if time.Duration(d.v) < d.min {
			want := "a duration >= 0"
			if d.min > 0 {
				want = "a duration > 0"
			}
			return fmt.Errorf("invalid '%s' %q: want %s", d.name, time.Duration(d.v), want)
		}
	}
	if t.Language == "" {
		t.Language = "en"
	}
	if _, ok := buttonLabels[t.Language]; !ok {
		return fmt.Errorf("invalid 'language' %q: want \"en\" or \"ru\"", t.Language)
	}
	if t.StateDirectory != "" {
		if fi, err := os.Stat(t.StateDirectory); err == nil && !fi.IsDir() {
			return fmt.Errorf("invalid 'state_directory' %q: not a directory", t.StateDirectory)
		}
	}
	return botapi.CheckTransport(&t.TransportConfig)
}

// Connect checks the token's shape, opens the state directory and starts
// the sender. It does not call the API, so that an unreachable Telegram
// does not stop the agent: events wait in the queue.
func (t *Telegram) Connect() error {
	if t.sender != nil {
		return nil
	}
	secret, err := t.Token.Get()
	if err != nil {
		return fmt.Errorf("getting 'token': %w", err)
	}
	err = botapi.CheckTokenShape(secret.Bytes())
	secret.Destroy()
	if err != nil {
		return err
	}
	q, threadsPath, err := t.openState()
	if err != nil {
		return err
	}
	if t.client, err = t.newClient(); err != nil {
		q.Close()
		if t.state != nil {
			t.state.Close()
			t.state = nil
		}
		return err
	}
	t.queue = q
	if n := q.Len(); n > 0 {
		t.Log.Infof("Resuming the delivery of %d event(s) queued before the restart", n)
	}
	th, err := threads.Load(threadsPath, t.Log)
	if err != nil {
		t.Log.Errorf("Cannot read the threads file %q: %v; realerts and recoveries of earlier alerts will not be replies", threadsPath, err)
		th, _ = threads.Load("", t.Log)
	}
	t.sender = t.newSender(th)
	if t.state != nil {
		t.sender.migrationPath = t.state.MigrationPath()
		to, err := threads.LoadMigration(t.sender.migrationPath, t.ChatID)
		switch {
		case err != nil:
			t.Log.Warnf("Cannot read %q: %v; a group upgraded to a supergroup is found again at the first message", t.sender.migrationPath, err)
		case to != "":
			t.Log.Errorf("Chat %q was upgraded to a supergroup with the id %q: sending there; set 'chat_id' = %q in the configuration",
				t.ChatID, to, to)
			t.sender.setChat(to)
		}
	}

	var ctx context.Context
	ctx, t.cancel = context.WithCancel(context.Background())
	t.drain, t.done = make(chan struct{}), make(chan struct{})
	go func(s *sender, drain, done chan struct{}) {
		defer close(done)
		s.run(ctx, drain)
	}(t.sender, t.drain, t.done)
	return nil
}

// openState opens the state directory, if one is set: the queue loaded
// from its file, and the threads file's path. A directory that cannot be
// used leaves both in memory, with an error saying what a crash would lose;
// only a directory held by another output stops the start.
func (t *Telegram) openState() (*queue.Queue, string, error) {
	if t.StateDirectory == "" {
		return queue.New(t.Log), "", nil
	}
	state, q, err := queue.OpenDir(t.StateDirectory, t.Log)
	switch {
	case errors.Is(err, queue.ErrDirInUse):
		return nil, "", err
	case err != nil:
		t.Log.Errorf("Cannot use 'state_directory' %q: %v; the queue and the threads are kept in memory only, so a crash loses the events not yet delivered",
			t.StateDirectory, err)
		return queue.New(t.Log), "", nil
	}
	t.state = state
	return q, state.ThreadsPath(), nil
}

func (t *Telegram) newSender(th *threads.Map) *sender {
	now, sleep, after := t.now, t.sleep, t.after
	if now == nil {
		now, sleep, after = time.Now, botapi.Wait, time.After
	}
	s := &sender{
		chatID:       t.ChatID,
		configChat:   t.ChatID,
		threadID:     t.MessageThreadID,
		silent:       make(map[string]bool, len(t.SilentEvents)),
		replies:      t.ThreadReplies,
		markResolved: t.EditAlertOnRecovery,
		maxRetryWait: time.Duration(t.MaxRetryWait),
		timeout:      time.Duration(t.Timeout),
		client:       t.client,
		pace:         botclient.NewPacer(t.ChatID, now, sleep),
		queue:        t.queue,
		threads:      th,
		log:          t.Log,
		now:          now,
		sleep:        sleep,
		after:        after,
	}
	for _, e := range t.SilentEvents {
		s.silent[e] = true
	}
	if t.Buttons {
		s.buttons = newButtons(t.Language)
	}
	return s
}

// newClient builds the Bot API client on Telegraf's HTTP transport (proxy,
// TLS).
func (t *Telegram) newClient() (*botclient.Client, error) {
	api, err := botapi.NewClient(t.APIURL, &t.Token, t.TransportConfig, time.Duration(t.Timeout))
	if err != nil {
		return nil, err
	}
	return botclient.New(api), nil
}

// Close delivers what is queued, for close_timeout at most and only while
// Telegram takes it, and stops the sender. What is left stays in the state
// directory for the next start; without one it is lost, and logged as such.
func (t *Telegram) Close() error {
	if t.sender != nil {
		close(t.drain)
		stop := time.AfterFunc(time.Duration(t.CloseTimeout), t.cancel)
		<-t.done
		stop.Stop()
		t.cancel()
		if n := t.queue.Len(); n > 0 {
			if t.queue.Persistent() {
				t.Log.Warnf("Stopping with %d event(s) not delivered: they stay queued in %q and are sent after the next start",
					n, t.StateDirectory)
			} else {
				t.Log.Warnf("Stopping with %d event(s) not delivered: not acknowledged, they stay in Telegraf's buffer, "+
					"which keeps them for the next start with buffer_strategy = \"disk\" (the memory buffer loses them)", n)
			}
		}
		t.queue.Close()
		t.client.Close()
		t.sender, t.queue = nil, nil
	}
	if t.state != nil {
		t.state.Close()
		t.state = nil
	}
	return nil
}

// ErrNotDelivered: Write queued the batch but some of it is not delivered
// yet, and no state directory keeps it: Telegraf must keep the batch.
var ErrNotDelivered = errors.New("not delivered yet")

// ackWait is how long Write waits, without a state directory, for the
// batch to be delivered before it tells Telegraf to keep it: long enough
// for a message or two within Telegram's pacing, short of the timeouts
// that would hold up Telegraf's flush for long.
const ackWait = 5 * time.Second

// Write hands the events to the queue; the sender delivers them in the
// background. A batch Telegraf sends again (after an error, or a restart
// from its disk buffer) is recognised and not queued twice.
//
// With a state directory the queue is on disk when Write returns: Telegraf
// may drop the batch. Without one, Write acknowledges only what is
// delivered (or refused for good): it waits up to ackWait while the sender
// is not failing, then returns ErrNotDelivered so that Telegraf's buffer,
// on disk with buffer_strategy = "disk", keeps the batch until a later
// Write finds it delivered.
func (t *Telegram) Write(metrics []telegraf.Metric) error {
	if t.queue == nil {
		return errors.New("not connected")
	}
	evs := make([]queue.Event, 0, len(metrics))
	for _, m := range metrics {
		if ev, ok := t.toEvent(m); ok {
			evs = append(evs, ev)
		}
	}
	t.queue.Push(evs)
	if t.queue.Persistent() || len(evs) == 0 {
		return nil
	}
	ids := make([]uint64, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	deadline := time.NewTimer(ackWait)
	defer deadline.Stop()
	for {
		n, changed := t.queue.Waiting(ids)
		if n == 0 {
			return nil
		}
		failing := t.sender.failure()
		if failing == "" {
			select {
			case <-changed:
				continue
			case <-deadline.C:
			}
			failing = "still sending"
		}
		return fmt.Errorf("%w: %d of %d event(s) waiting (%s); Telegraf keeps the batch in its buffer and writes it again, "+
			"set 'state_directory' to queue it on disk instead", ErrNotDelivered, n, len(evs), failing)
	}
}

func init() {
	outputs.Add("telegram", func() telegraf.Output {
		t := &Telegram{
			APIURL:        "https://api.telegram.org",
			TextField:     "message",
			SilentEvents:  []string{"realert", "recovery"},
			Timeout:       config.Duration(10 * time.Second),
			MaxRetryWait:  config.Duration(10 * time.Second),
			CloseTimeout:  config.Duration(5 * time.Second),
			ThreadReplies: true,
			Language:      "en",
		}
		t.UseSystemProxy = true
		return t
	})
}
