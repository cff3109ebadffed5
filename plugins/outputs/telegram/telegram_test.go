package telegram

import (
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/botclient"
)

func TestSampleConfig(t *testing.T) {
	t.Setenv("TELEGRAM_BOT_TOKEN", testToken)
	t.Setenv("TELEGRAM_CHAT_ID", "@alerts")
	c := config.NewConfig()
	require.NoError(t, c.LoadConfigData([]byte(sampleConfig), ""))
	require.Len(t, c.Outputs, 1)
	p, ok := c.Outputs[0].Output.(*Telegram)
	require.True(t, ok)
	require.Equal(t, "@alerts", p.ChatID)
	require.Equal(t, "https://api.telegram.org", p.APIURL)
	require.Equal(t, []string{"realert", "recovery"}, p.SilentEvents)
	require.Equal(t, config.Duration(10*time.Second), p.Timeout)
	require.Equal(t, config.Duration(5*time.Second), p.CloseTimeout)
	require.Empty(t, p.StateDirectory)
	require.True(t, p.ThreadReplies)
	require.False(t, p.EditAlertOnRecovery)
	require.True(t, p.UseSystemProxy)
	require.Empty(t, p.HTTPProxyURL)
	require.Equal(t, []string{"procblocking_alert"}, c.Outputs[0].Config.Filter.NamePass)
	p.Log = &captureLogger{}
	require.NoError(t, p.Init())
	require.NoError(t, p.Connect())
	require.NoError(t, p.Close())
	ok, err := p.Token.EqualTo([]byte(testToken))
	require.NoError(t, err)
	require.True(t, ok)
}

func TestReadmeHoldsSampleConfig(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	require.Contains(t, string(readme), sampleConfig)
}

func TestInitErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	tests := []struct {
		name   string
		modify func(*Telegram)
		want   string
	}{
		{"no token", func(p *Telegram) { p.Token = config.Secret{} }, `invalid 'token' "": want the bot token`},
		{"no chat", func(p *Telegram) { p.ChatID = "" }, `invalid 'chat_id' "": want a numeric id or @channelname`},
		{"bad chat", func(p *Telegram) { p.ChatID = "12ab" }, `invalid 'chat_id' "12ab"`},
		{"bare at", func(p *Telegram) { p.ChatID = "@" }, `invalid 'chat_id' "@"`},
		{"negative thread", func(p *Telegram) { p.MessageThreadID = -1 }, `invalid 'message_thread_id' "-1"`},
		{"ftp url", func(p *Telegram) { p.APIURL = "ftp://api.telegram.org" }, `invalid 'api_url' "ftp://api.telegram.org"`},
		{"no host", func(p *Telegram) { p.APIURL = "https://" }, `invalid 'api_url' "https://"`},
		{"query", func(p *Telegram) { p.APIURL = "https://x?y=1" }, `invalid 'api_url' "https://x?y=1": want no query`},
		{"empty text field", func(p *Telegram) { p.TextField = "" }, `invalid 'text_field' "": want the name`},
		{"zero timeout", func(p *Telegram) { p.Timeout = 0 }, `invalid 'timeout' "0s": want a duration > 0`},
		{"negative timeout", func(p *Telegram) { p.Timeout = config.Duration(-time.Second) }, `invalid 'timeout' "-1s"`},
		{"negative retry wait", func(p *Telegram) { p.MaxRetryWait = config.Duration(-time.Second) }, `invalid 'max_retry_wait' "-1s": want a duration >= 0`},
		{"negative close timeout", func(p *Telegram) { p.CloseTimeout = config.Duration(-time.Second) }, `invalid 'close_timeout' "-1s"`},
		{"state directory is a file", func(p *Telegram) { p.StateDirectory = file }, `invalid 'state_directory' "` + file + `": not a directory`},
		{"proxy scheme", func(p *Telegram) { p.HTTPProxyURL = "ftp://user:hunter2@proxy:21" }, `invalid 'http_proxy_url' "ftp://user:xxxxx@proxy:21": want an http, https or socks5 URL`},
		{"proxy without host", func(p *Telegram) { p.HTTPProxyURL = "http://" }, `invalid 'http_proxy_url' "http:": want a host`},
		{"proxy not a URL", func(p *Telegram) { p.HTTPProxyURL = "http://user:hunter2@[::1" }, `invalid 'http_proxy_url': not a URL`},
		{"tls ca missing", func(p *Telegram) { p.TLSCA = filepath.Join(t.TempDir(), "missing.pem") }, "invalid TLS options"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePlugin("https://api.telegram.org")
			p.Log = &captureLogger{}
			require.NoError(t, p.Init(), "the base config must be valid")
			tt.modify(p)
			err := p.Init()
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), testToken)
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestConnectRejectsMalformedToken(t *testing.T) {
	for _, tok := range []string{"no-colon", "1:abc/def", "1:abc?x=1", "1:abc#x", "x:abc"} {
		p := basePlugin("https://api.telegram.org")
		p.Token = config.NewSecret([]byte(tok))
		p.Log = &captureLogger{}
		require.NoError(t, p.Init())
		err := p.Connect()
		require.ErrorContains(t, err, "invalid 'token' (the value is not shown)", tok)
		require.NotContains(t, err.Error(), tok)
	}
}

// Init only validates (so that --test leaves no trace); Connect creates the
// state directory.
func TestInitCreatesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "telegram")
	p := basePlugin(newServer(t).URL())
	p.StateDirectory = dir
	p.Log = &captureLogger{}
	require.NoError(t, p.Init())
	_, err := os.Stat(dir)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, p.Connect())
	require.NoError(t, p.Close())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.ElementsMatch(t, []string{"lock", "queue.log"}, names)
}

func TestWriteSendsOneMessagePerEvent(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.MessageThreadID = 42 })

	queueWrite(t, p, []telegraf.Metric{
		alertEvent("alert", "🚨 pytest pid 4001 has run for 3h\norphaned", 1),
		alertEvent("realert", "🔁 pytest pid 4001 still running", 1),
		alertEvent("recovery", "✅ pytest pid 4001 is gone", 1),
		alertEvent("scan_failed", "⚠️ cannot read /proc\npermission denied", 4),
	})
	want := []botapitest.Message{
		{MessageID: 1, Text: "<b>🚨 pytest pid 4001 has run for 3h</b>\norphaned"},
		{MessageID: 2, Text: "<b>🔁 pytest pid 4001 still running</b>", DisableNotification: true, ReplyTo: 1},
		{MessageID: 3, Text: "<b>✅ pytest pid 4001 is gone</b>", DisableNotification: true, ReplyTo: 1},
		{MessageID: 4, Text: "<b>⚠️ cannot read /proc</b>\npermission denied"},
	}
	for i := range want {
		want[i].ChatID = testChat
		want[i].ParseMode = "HTML"
		want[i].LinkPreviewDisabled = true
		want[i].MessageThreadID = 42
	}
	require.Equal(t, want, waitMessages(t, srv, 4))
	require.Equal(t, 4, srv.Requests())
	// Paced: one message a second.
	require.Equal(t, []time.Duration{time.Second, time.Second, time.Second}, p.clock.sleeps())
}

func TestThreadIDAndReplyOmittedWhenZero(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		_, _ = w.Write([]byte(`{"ok":true,"result":{"message_id":1}}`))
	}))
	t.Cleanup(ts.Close)
	p := newPlugin(t, ts.URL)
	queueWrite(t, p, batch(1))
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(bodies) == 1 }, 30*time.Second, 5*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.NotContains(t, bodies[0], "message_thread_id")
	require.NotContains(t, bodies[0], "reply_parameters")
	require.Contains(t, bodies[0], `"link_preview_options":{"is_disabled":true}`)
	require.Contains(t, bodies[0], `"parse_mode":"HTML"`)
}

// With a state directory, Write hands the events over and returns while
// Telegram has not answered: Telegraf's flush is never held up by the Bot
// API (Telegraf would log "did not complete within its flush interval"
// every second of a backlog).
func TestWriteReturnsBeforeTelegramAnswers(t *testing.T) {
	srv := newServer(t)
	srv.SetDefault(botapitest.Response{Delay: time.Hour})
	p := newPlugin(t, srv.URL(), func(p *Telegram) {
		p.Timeout = config.Duration(time.Hour)
		p.CloseTimeout = 0
		p.StateDirectory = t.TempDir()
	})
	returned := make(chan error, 1)
	go func() { returned <- p.Write(batch(50)) }()
	select {
	case err := <-returned:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Write waited for Telegram")
	}
	require.Eventually(t, func() bool { return srv.Requests() == 1 }, 30*time.Second, 5*time.Millisecond,
		"the sender is busy with the first request")
	require.Empty(t, srv.Messages())
}

// The case: Telegraf sends a batch again (its disk buffer after a
// restart, or an error elsewhere); the events already queued or delivered
// must not go out twice.
func TestBatchSentAgainIsNotQueuedTwice(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.StateDirectory = dir })
	events := batch(3)
	queueWrite(t, p, events)
	queueWrite(t, p, events[1:])
	require.Equal(t, alertTexts(1, 3), texts(waitMessages(t, srv, 3)))
	require.NoError(t, p.Close())

	// After a restart, the identities accepted before are still known.
	p2 := newPlugin(t, srv.URL(), func(p *Telegram) { p.StateDirectory = dir })
	queueWrite(t, p2, append(events, batch(4)[3]))
	require.Equal(t, alertTexts(1, 4), texts(waitMessages(t, srv, 4)))
	require.NoError(t, p2.Close())
	require.Equal(t, 4, srv.Requests())
}

// Telegram failing with 500 for many attempts while new events keep
// arriving: every event delivered exactly once, in order, with one error
// logged for the outage rather than one per attempt.
func TestTelegram500ThenBack(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	srv.Enqueue(botapitest.Response{}) // the first event goes out before the outage
	srv.SetDefault(botapitest.Response{Status: 500, Description: "Internal Server Error"})
	events := batch(5)

	queueWrite(t, p, events[:1])
	waitMessages(t, srv, 1)
	queueWrite(t, p, events[1:3])
	require.Eventually(t, func() bool { return srv.Requests() >= 10 }, 30*time.Second, 5*time.Millisecond)
	queueWrite(t, p, events[3:])
	require.Eventually(t, func() bool { return srv.Requests() >= 15 }, 30*time.Second, 5*time.Millisecond)
	srv.SetDefault(botapitest.Response{})

	require.Equal(t, alertTexts(1, 5), texts(waitMessages(t, srv, 5)))
	require.Equal(t, 1, p.log.count("E!", "Cannot deliver to chat", "telegram API error 500"), p.log.String())
	require.Equal(t, 1, p.log.count("I!", "delivering again after"), p.log.String())
	// The waits between attempts grow to max_retry_wait and stay there.
	var retries []time.Duration
	for _, d := range p.clock.sleeps() {
		if d > time.Second {
			retries = append(retries, d)
		}
	}
	require.Equal(t, []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second}, retries[:4])
	require.NotContains(t, retries, 20*time.Second)
}

func Test429WaitsRetryAfter(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	srv.Enqueue(botapitest.Response{Status: 429, RetryAfter: 3})

	queueWrite(t, p, batch(2))
	require.Equal(t, alertTexts(1, 2), texts(waitMessages(t, srv, 2)))
	// 3 s as asked; then the second message is due at once: the first went
	// out 3 s after the refused attempt, nothing else was booked.
	require.Equal(t, []time.Duration{3 * time.Second, time.Second}, p.clock.sleeps())
	require.Equal(t, 3, srv.Requests())
	require.Zero(t, p.log.count("E!"), p.log.String())
}

// A retry_after longer than max_retry_wait is honoured all the same (the
// message is not dropped, and sending earlier would only earn another 429),
// with a warning.
func Test429BeyondMaxRetryWait(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	srv.Enqueue(botapitest.Response{}, botapitest.Response{Status: 429, RetryAfter: 30})

	queueWrite(t, p, batch(3))
	require.Equal(t, alertTexts(1, 3), texts(waitMessages(t, srv, 3)))
	require.Contains(t, p.clock.sleeps(), 30*time.Second)
	require.Equal(t, 1, p.log.count("W!", "asks to wait 30s"), p.log.String())
}

func TestParseErrorResendsPlainText(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	srv.Enqueue(botapitest.Response{Status: 400, Description: "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 5"})

	queueWrite(t, p, []telegraf.Metric{alertEvent("alert", "🚨 pytest\npytest -k \"a<b & c>d\"", 1)})
	require.Equal(t, []botapitest.Message{{
		ChatID:              testChat,
		MessageID:           1,
		Text:                "🚨 pytest\npytest -k \"a<b & c>d\"",
		LinkPreviewDisabled: true,
	}}, waitMessages(t, srv, 1))
	require.Equal(t, 2, srv.Requests())
	require.Equal(t, 1, p.log.count("W!", "as plain text"))
}

func TestParseErrorTwiceDropsOnce(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	parse := botapitest.Response{Status: 400, Description: "Bad Request: can't parse entities: x"}
	srv.Enqueue(parse, parse)

	queueWrite(t, p, batch(2))
	require.Equal(t, alertTexts(2, 2), texts(waitMessages(t, srv, 1)))
	require.Equal(t, 3, srv.Requests(), "the plain resend happens once, not in a loop")
	require.Equal(t, 1, p.log.count("E!", "Dropping 1 alert event"))
}

// A group upgraded to a supergroup answers 400 with its new id: the output
// sends there for the rest of the run and says which chat_id to set.
func TestChatMigratedToSupergroup(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.ChatID = "-4242" })
	srv.Enqueue(botapitest.Response{}, botapitest.Response{Status: 400, Description: botapitest.ChatMigrated, MigrateToChatID: -1004242})

	queueWrite(t, p, []telegraf.Metric{
		alertEvent("alert", "🚨 one", 1), alertEvent("realert", "🔁 one", 1), alertEvent("alert", "🚨 two", 2),
	})
	msgs := waitMessages(t, srv, 3)
	require.Equal(t, []string{"-4242", "-1004242", "-1004242"}, []string{msgs[0].ChatID, msgs[1].ChatID, msgs[2].ChatID})
	require.Zero(t, msgs[1].ReplyTo, "the first alert is in the old chat")
	require.Equal(t, 1, p.log.count("E!", `Chat "-4242" was upgraded to a supergroup with the id "-1004242"`, `set 'chat_id' = "-1004242"`), p.log.String())
}

func TestTimeoutRetried(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.Timeout = config.Duration(2 * time.Second) })
	srv.Enqueue(botapitest.Response{}, botapitest.Response{Delay: time.Minute})

	queueWrite(t, p, batch(3))
	require.Equal(t, alertTexts(1, 3), texts(waitMessages(t, srv, 3)))
	require.Equal(t, 1, p.log.count("W!", "no answer within 2s", "may have taken the message"), p.log.String())
}

func TestConnectionRefusedRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	p := newPlugin(t, "http://"+addr)
	queueWrite(t, p, batch(3))
	require.Eventually(t, func() bool { return p.log.count("D!", "connection refused") >= 2 }, 30*time.Second, 5*time.Millisecond)
	require.Equal(t, 1, p.log.count("E!", "Cannot deliver", "connection refused"), p.log.String())

	// Telegram reachable again, at the same address.
	srv := newServer(t)
	target, err := url.Parse(srv.URL())
	require.NoError(t, err)
	l, err = net.Listen("tcp", addr)
	require.NoError(t, err)
	proxy := &http.Server{Handler: httputil.NewSingleHostReverseProxy(target), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = proxy.Serve(l) }()
	t.Cleanup(func() { proxy.Close() })

	require.Equal(t, alertTexts(1, 3), texts(waitMessages(t, srv, 3)))
	require.Equal(t, 3, srv.Requests())
}

func TestMarkupInCmdlineIsLiteral(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	cmdline := `pytest --url <a href="http://x">click</a> && echo </b> <b> '&amp;'`
	queueWrite(t, p, []telegraf.Metric{alertEvent("alert", "🚨 <i>runaway</i>\n"+cmdline, 1)})

	msgs := waitMessages(t, srv, 1)
	require.Equal(t, "HTML", msgs[0].ParseMode, "delivered as HTML, not through the plain-text fallback")
	require.Equal(t, "<b>🚨 &lt;i&gt;runaway&lt;/i&gt;</b>\npytest --url &lt;a href=&#34;http://x&#34;&gt;click&lt;/a&gt; &amp;&amp; echo &lt;/b&gt; &lt;b&gt; &#39;&amp;amp;&#39;", msgs[0].Text)
	require.Equal(t, "🚨 <i>runaway</i>\n"+cmdline, html.UnescapeString(strings.NewReplacer("<b>", "", "</b>", "").Replace(msgs[0].Text)),
		"the reader sees the message as it was")
}

func TestLongMessageCut(t *testing.T) {
	for _, tt := range []struct {
		name, msg, suffix string
	}{
		{"multibyte", "🚨 long\n" + strings.Repeat("é", 10_000), "é…"},
		{"entities", "🚨 long\n" + strings.Repeat("a&", 5_000), "a&amp;…"},
		{"long headline", strings.Repeat("<", 5_000), "&lt;…</b>"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			p := newPlugin(t, srv.URL())
			queueWrite(t, p, []telegraf.Metric{alertEvent("alert", tt.msg, 1)})
			msgs := waitMessages(t, srv, 1)
			text := msgs[0].Text
			require.Equal(t, "HTML", msgs[0].ParseMode)
			require.Equal(t, botclient.MaxTextRunes, utf8.RuneCountInString(botapitest.VisibleText(text, "HTML")),
				"cut at exactly the limit Telegram counts")
			require.True(t, strings.HasSuffix(text, tt.suffix), text[len(text)-20:])
		})
	}
}

func TestEventWithoutTextDropped(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	noText := metric.New("procblocking_alert", map[string]string{"event": "alert"}, map[string]interface{}{"count": int64(1)}, time.Unix(1, 0))
	intText := metric.New("procblocking_alert", map[string]string{"event": "alert"}, map[string]interface{}{"message": int64(5)}, time.Unix(2, 0))
	blank := metric.New("procblocking_alert", map[string]string{"event": "alert"}, map[string]interface{}{"message": " \n "}, time.Unix(3, 0))

	queueWrite(t, p, []telegraf.Metric{noText, intText, blank, alertEvent("alert", "🚨 event 1", 1)})
	require.Equal(t, alertTexts(1, 1), texts(waitMessages(t, srv, 1)))
	require.Equal(t, 2, p.log.count("E!", `no string field "message"`))
	require.Equal(t, 1, p.log.count("E!", `field "message" is empty`))
}

// A message of a producer other than alertstate, without an event tag or
// emoji, is shown the same way: first line bold, no word added.
func TestUnknownProducer(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.ChatID = "42" })
	m := metric.New("deploy", nil, map[string]interface{}{"message": "Deploy finished\n3 hosts"}, time.Unix(1, 0))
	queueWrite(t, p, []telegraf.Metric{m})
	require.Equal(t, []string{"<b>Deploy finished</b>\n3 hosts"}, texts(waitMessages(t, srv, 1)))
}

func TestPrivateChatPacedOnePerSecond(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.ChatID = "42" })
	queueWrite(t, p, batch(3))
	require.Equal(t, alertTexts(1, 3), texts(waitMessages(t, srv, 3)))
	require.Equal(t, []time.Duration{time.Second, time.Second}, p.clock.sleeps())
}

func TestRedirectNotFollowed(t *testing.T) {
	var mu sync.Mutex
	var elsewhere []string
	other := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		elsewhere = append(elsewhere, r.URL.Path)
	}))
	t.Cleanup(other.Close)
	var redirects int
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		redirects++
		mu.Unlock()
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	p := newPlugin(t, redirect.URL, func(p *Telegram) { p.CloseTimeout = 0 })

	queueWrite(t, p, batch(1))
	// A redirect is not a delivery: tried again, never followed.
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return redirects >= 3 }, 30*time.Second, 5*time.Millisecond)
	require.NoError(t, p.Close())
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, elsewhere, "the token's path must not be forwarded")
	require.NotContains(t, p.log.String(), testToken)
}
