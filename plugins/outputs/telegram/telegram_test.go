package telegram

import (
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/botapitest"
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
	tests := []struct {
		name   string
		modify func(*Telegram)
		want   string
	}{
		{"no token", func(p *Telegram) { p.Token = config.Secret{} }, "'token' is required"},
		{"no chat", func(p *Telegram) { p.ChatID = "" }, "'chat_id' is required"},
		{"bad chat", func(p *Telegram) { p.ChatID = "12ab" }, `invalid 'chat_id' "12ab"`},
		{"bare at", func(p *Telegram) { p.ChatID = "@" }, `invalid 'chat_id' "@"`},
		{"negative thread", func(p *Telegram) { p.MessageThreadID = -1 }, "invalid 'message_thread_id' -1"},
		{"ftp url", func(p *Telegram) { p.APIURL = "ftp://api.telegram.org" }, `invalid 'api_url' "ftp://api.telegram.org"`},
		{"no host", func(p *Telegram) { p.APIURL = "https://" }, `invalid 'api_url' "https://"`},
		{"query", func(p *Telegram) { p.APIURL = "https://x?y=1" }, `invalid 'api_url' "https://x?y=1": want no query`},
		{"empty text field", func(p *Telegram) { p.TextField = "" }, "'text_field' must not be empty"},
		{"zero timeout", func(p *Telegram) { p.Timeout = 0 }, `invalid 'timeout' "0s"`},
		{"negative timeout", func(p *Telegram) { p.Timeout = config.Duration(-time.Second) }, `invalid 'timeout' "-1s"`},
		{"negative retry wait", func(p *Telegram) { p.MaxRetryWait = config.Duration(-time.Second) }, `invalid 'max_retry_wait' "-1s"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Telegram{
				Token: config.NewSecret([]byte(testToken)), ChatID: "42", APIURL: "https://api.telegram.org",
				TextField: "message", Timeout: config.Duration(time.Second), Log: &captureLogger{},
			}
			require.NoError(t, p.Init(), "the base config must be valid")
			tt.modify(p)
			err := p.Init()
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), testToken)
		})
	}
}

func TestConnectRejectsMalformedToken(t *testing.T) {
	for _, tok := range []string{"no-colon", "1:abc/def", "1:abc?x=1", "1:abc#x", "x:abc"} {
		p := &Telegram{
			Token: config.NewSecret([]byte(tok)), ChatID: "42", APIURL: "https://api.telegram.org",
			TextField: "message", Timeout: config.Duration(time.Second), Log: &captureLogger{},
		}
		require.NoError(t, p.Init())
		err := p.Connect()
		require.ErrorContains(t, err, "invalid 'token'", tok)
		require.NotContains(t, err.Error(), tok)
	}
}

func TestWriteSendsOneMessagePerEvent(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.MessageThreadID = 42 })

	require.NoError(t, p.Write([]telegraf.Metric{
		alertEvent("alert", "pytest pid 4001 has run for 3h", 1),
		alertEvent("realert", "pytest pid 4001 still running", 2),
		alertEvent("recovery", "pytest pid 4001 is gone", 3),
		alertEvent("scan_failed", "cannot read /proc", 4),
	}))
	want := []botapitest.Message{
		{Text: "🚨 <b>Alert</b>\npytest pid 4001 has run for 3h"},
		{Text: "🔁 <b>Still running</b>\npytest pid 4001 still running", DisableNotification: true},
		{Text: "✅ <b>Recovered</b>\npytest pid 4001 is gone", DisableNotification: true},
		{Text: "⚠️ <b>Scan failed</b>\ncannot read /proc"},
	}
	for i := range want {
		want[i].ChatID = "-1001234567890"
		want[i].ParseMode = "HTML"
		want[i].LinkPreviewDisabled = true
		want[i].MessageThreadID = 42
	}
	require.Equal(t, want, srv.Messages())
	require.Equal(t, 4, srv.Requests())
}

func TestThreadIDOmittedWhenZero(t *testing.T) {
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
	require.NoError(t, p.Write(batch(1)))
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, bodies, 1)
	require.NotContains(t, bodies[0], "message_thread_id")
	require.Contains(t, bodies[0], `"link_preview_options":{"is_disabled":true}`)
	require.Contains(t, bodies[0], `"parse_mode":"HTML"`)
}

// The case: Telegraf resends the whole batch after an error; the
// events already delivered must not go out again.
func TestBatchSecondFails500ThenSucceeds(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	srv.Enqueue(botapitest.Response{}, botapitest.Response{Status: 500})
	events := batch(3)

	err := p.Write(events)
	require.ErrorContains(t, err, "telegram API error 500")
	require.Equal(t, alertTexts(1, 1), texts(srv.Messages()))

	require.NoError(t, p.Write(events))
	require.Equal(t, alertTexts(1, 3), texts(srv.Messages()))
	require.Equal(t, 4, srv.Requests())
	require.Empty(t, p.delivered, "the set is forgotten once a write succeeds")
}

// Telegram failing with 500 for five minutes: 30 flushes at the default 10s
// interval, while new events keep arriving.
func TestTelegram500ForFiveMinutes(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	srv.Enqueue(botapitest.Response{}) // the first event goes out before the outage
	srv.SetDefault(botapitest.Response{Status: 500, Description: "Internal Server Error"})
	events := batch(8)

	for flush := range 30 {
		n := min(2+flush/5, len(events)) // the buffer grows during the outage
		require.Error(t, p.Write(events[:n]), "flush %d", flush)
	}
	require.Equal(t, alertTexts(1, 1), texts(srv.Messages()))

	srv.SetDefault(botapitest.Response{})
	require.NoError(t, p.Write(events))
	require.Equal(t, alertTexts(1, 8), texts(srv.Messages()))
	require.Equal(t, 1+30+7, srv.Requests())
}

func Test429WaitsRetryAfter(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	srv.Enqueue(botapitest.Response{Status: 429, RetryAfter: 3})

	require.NoError(t, p.Write(batch(2)))
	require.Equal(t, alertTexts(1, 2), texts(srv.Messages()))
	require.Equal(t, []time.Duration{3 * time.Second}, p.sleeps.all())
	require.Equal(t, 3, srv.Requests())
}

func Test429Storm(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	storm := botapitest.Response{Status: 429, RetryAfter: 1}
	srv.Enqueue(storm, storm, storm, botapitest.Response{}, storm, storm, botapitest.Response{}, storm)

	require.NoError(t, p.Write(batch(3)))
	require.Equal(t, alertTexts(1, 3), texts(srv.Messages()))
	require.Len(t, p.sleeps.all(), 6)
	for _, d := range p.sleeps.all() {
		require.Equal(t, time.Second, d)
	}
	require.Equal(t, 9, srv.Requests())
}

func Test429BeyondMaxRetryWaitKeepsBatch(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	srv.Enqueue(botapitest.Response{}, botapitest.Response{Status: 429, RetryAfter: 30})
	events := batch(3)

	err := p.Write(events)
	require.ErrorContains(t, err, "'max_retry_wait' 10s")
	require.Empty(t, p.sleeps.all(), "a wait beyond the bound is not slept")
	require.Equal(t, alertTexts(1, 1), texts(srv.Messages()))

	require.NoError(t, p.Write(events))
	require.Equal(t, alertTexts(1, 3), texts(srv.Messages()))
}

func Test429StormExhaustsBound(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.MaxRetryWait = config.Duration(3 * time.Second) })
	srv.SetDefault(botapitest.Response{Status: 429, RetryAfter: 1})

	require.ErrorContains(t, p.Write(batch(2)), "max_retry_wait")
	require.Equal(t, []time.Duration{time.Second, time.Second, time.Second}, p.sleeps.all())
	require.Empty(t, srv.Messages())

	srv.SetDefault(botapitest.Response{})
	require.NoError(t, p.Write(batch(2)))
	require.Equal(t, alertTexts(1, 2), texts(srv.Messages()))
}

func TestParseErrorResendsPlainText(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	srv.Enqueue(botapitest.Response{Status: 400, Description: "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 5"})

	require.NoError(t, p.Write([]telegraf.Metric{alertEvent("alert", `pytest -k "a<b & c>d"`, 1)}))
	require.Equal(t, []botapitest.Message{{
		ChatID:              "-1001234567890",
		Text:                "🚨 Alert\npytest -k \"a<b & c>d\"",
		LinkPreviewDisabled: true,
	}}, srv.Messages())
	require.Equal(t, 2, srv.Requests())
	require.Contains(t, p.log.String(), "as plain text")
}

func TestParseErrorTwiceDropsOnce(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	parse := botapitest.Response{Status: 400, Description: "Bad Request: can't parse entities: x"}
	srv.Enqueue(parse, parse)

	require.NoError(t, p.Write(batch(2)))
	require.Equal(t, alertTexts(2, 2), texts(srv.Messages()))
	require.Equal(t, 3, srv.Requests(), "the plain resend happens once, not in a loop")
}

func Test403DroppedRestDelivered(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	srv.Enqueue(botapitest.Response{}, botapitest.Response{Status: 403, Description: "Forbidden: bot was blocked by the user"})

	require.NoError(t, p.Write(batch(3)))
	require.Equal(t, []string{alertTexts(1, 1)[0], alertTexts(3, 3)[0]}, texts(srv.Messages()))
	require.Equal(t, 1, p.log.count("E!"))
	require.Contains(t, p.log.String(), `chat "-1001234567890": Forbidden: bot was blocked by the user (HTTP 403)`)
}

func TestTimeoutKeepsBatch(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.Timeout = config.Duration(200 * time.Millisecond) })
	srv.Enqueue(botapitest.Response{}, botapitest.Response{Delay: time.Minute})
	events := batch(3)

	err := p.Write(events)
	require.Error(t, err)
	var te *transportError
	require.ErrorAs(t, err, &te)
	require.True(t, te.Timeout(), err.Error())
	require.Equal(t, alertTexts(1, 1), texts(srv.Messages()))

	require.NoError(t, p.Write(events))
	require.Equal(t, alertTexts(1, 3), texts(srv.Messages()))
}

func TestConnectionRefusedKeepsBatch(t *testing.T) {
	down := newServer(t)
	p := newPlugin(t, down.URL())
	down.Close()
	events := batch(3)

	for range 3 {
		err := p.Write(events)
		require.ErrorContains(t, err, "connection refused")
	}

	up := newServer(t)
	p.client.baseURL = up.URL() // Telegram reachable again
	require.NoError(t, p.Write(events))
	require.Equal(t, alertTexts(1, 3), texts(up.Messages()))
	require.Equal(t, 3, up.Requests())
}

func TestMarkupInCmdlineIsLiteral(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	cmdline := `pytest --url <a href="http://x">click</a> && echo </b> <b>`
	require.NoError(t, p.Write([]telegraf.Metric{alertEvent("alert", "runaway: "+cmdline, 1)}))

	msgs := srv.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, "HTML", msgs[0].ParseMode, "delivered as HTML, not through the plain-text fallback")
	require.Equal(t, "🚨 <b>Alert</b>\nrunaway: pytest --url &lt;a href=&quot;http://x&quot;&gt;click&lt;/a&gt; &amp;&amp; echo &lt;/b&gt; &lt;b&gt;", msgs[0].Text)
	body := strings.TrimPrefix(msgs[0].Text, "🚨 <b>Alert</b>\n")
	require.Equal(t, "runaway: "+cmdline, html.UnescapeString(body), "the reader sees the command line as it was")
}

func TestLongMessageCut(t *testing.T) {
	for _, tt := range []struct {
		name string
		msg  string
	}{
		{"multibyte", strings.Repeat("é", 10_000)},
		{"entities", strings.Repeat("a&", 5_000)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			p := newPlugin(t, srv.URL())
			require.NoError(t, p.Write([]telegraf.Metric{alertEvent("alert", tt.msg, 1)}))
			msgs := srv.Messages()
			require.Len(t, msgs, 1)
			text := msgs[0].Text
			require.True(t, utf8.ValidString(text))
			require.LessOrEqual(t, utf8.RuneCountInString(text), 4096)
			require.GreaterOrEqual(t, utf8.RuneCountInString(text), 4092, "cut near the limit, not far below")
			require.True(t, strings.HasSuffix(text, "a&amp;…") || strings.HasSuffix(text, "é…"), text[len(text)-20:])
			require.NoError(t, botapitest.ValidateHTML(text))
		})
	}
	// Exactly 4096 runes: é is one rune whatever its bytes.
	require.Equal(t, 4096, utf8.RuneCountInString(formatHTML("alert", strings.Repeat("é", 10_000))))
}

func TestEventWithoutTextDropped(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL())
	noText := metric.New("procblocking_alert", map[string]string{"event": "alert"}, map[string]interface{}{"count": int64(1)}, time.Unix(1, 0))
	intText := metric.New("procblocking_alert", map[string]string{"event": "alert"}, map[string]interface{}{"message": int64(5)}, time.Unix(2, 0))

	require.NoError(t, p.Write([]telegraf.Metric{noText, intText, alertEvent("alert", "event 1", 1)}))
	require.Equal(t, alertTexts(1, 1), texts(srv.Messages()))
	require.Equal(t, 2, p.log.count("E!"))
	require.Contains(t, p.log.String(), `no string field "message"`)
}

func TestWritePacesMessages(t *testing.T) {
	srv := newServer(t)
	p := newPlugin(t, srv.URL(), func(p *Telegram) { p.ChatID = "42" })
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	p.pace = newPacer("42")
	p.pace.now, p.pace.sleep = clock.now, clock.sleep

	require.NoError(t, p.Write(batch(3)))
	require.Equal(t, alertTexts(1, 3), texts(srv.Messages()))
	require.Equal(t, []time.Duration{time.Second, time.Second}, clock.slept)
}

func TestRedirectNotFollowed(t *testing.T) {
	var mu sync.Mutex
	var elsewhere []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		elsewhere = append(elsewhere, r.URL.Path)
	}))
	t.Cleanup(other.Close)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	p := newPlugin(t, redirect.URL)

	require.Error(t, p.Write(batch(1)), "a redirect is not a delivery")
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, elsewhere, "the token's path must not be forwarded")
}

// TestTokenNeverLeaks forces every error path and searches everything the
// plugin logged or returned for the token.
func TestTokenNeverLeaks(t *testing.T) {
	secretPart := testToken[strings.IndexByte(testToken, ':')+1:]
	var errs []error
	var logs []*captureLogger
	record := func(p testPlugin, err error) {
		errs = append(errs, err)
		logs = append(logs, p.log)
	}

	// Init errors.
	for _, modify := range []func(*Telegram){
		func(p *Telegram) { p.ChatID = "" },
		func(p *Telegram) { p.APIURL = "ftp://x" },
		func(p *Telegram) { p.Timeout = 0 },
	} {
		p := &Telegram{Token: config.NewSecret([]byte(testToken)), ChatID: "1", APIURL: "http://127.0.0.1:1", TextField: "message", Timeout: config.Duration(time.Second), Log: &captureLogger{}}
		modify(p)
		err := p.Init()
		require.Error(t, err)
		errs = append(errs, err)
	}

	// 401: the server knows another token.
	wrong := botapitest.New(t, "1:other")
	p := newPlugin(t, wrong.URL())
	record(p, p.Write(batch(1)))
	require.Contains(t, p.log.String(), "Unauthorized")

	// API errors, each on its own plugin.
	for _, r := range []botapitest.Response{
		{Status: 403, Description: "Forbidden: bot was blocked by the user"},
		{Status: 400, Description: "Bad Request: chat not found"},
		{Status: 400, Description: "Bad Request: can't parse entities: x"},
		{Status: 429, RetryAfter: 60},
		{Status: 500},
		{Status: 502, Description: "Bad Gateway"},
	} {
		srv := newServer(t)
		srv.SetDefault(r)
		p := newPlugin(t, srv.URL())
		err := p.Write(batch(1))
		if r.Status >= 429 {
			require.Error(t, err)
		}
		record(p, err)
	}

	// Timeout.
	slow := newServer(t)
	slow.SetDefault(botapitest.Response{Delay: time.Minute})
	p = newPlugin(t, slow.URL(), func(p *Telegram) { p.Timeout = config.Duration(100 * time.Millisecond) })
	err := p.Write(batch(1))
	require.Error(t, err)
	record(p, err)

	// Connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "http://" + l.Addr().String()
	require.NoError(t, l.Close())
	p = newPlugin(t, refused)
	err = p.Write(batch(1))
	require.ErrorContains(t, err, "connection refused")
	record(p, err)

	// Answers that are not the Bot API's JSON.
	for _, status := range []int{200, 404, 502} {
		garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte("<html>proxy says no " + r.URL.Path + "</html>"))
		}))
		t.Cleanup(garbage.Close)
		p = newPlugin(t, garbage.URL)
		err := p.Write(batch(1))
		if status != 404 {
			require.Error(t, err)
		}
		record(p, err)
	}

	// A dump of the plugin (as a panic or a debugger would print it) holds
	// the secret only in its protected container.
	dump := fmt.Sprintf("%+v %#v", *p.Telegram, p.Telegram)
	require.NotContains(t, dump, secretPart)

	var nonNil int
	for _, err := range errs {
		if err == nil {
			continue
		}
		nonNil++
		for _, text := range []string{err.Error(), fmtErr(err)} {
			require.NotContains(t, text, secretPart)
		}
	}
	require.GreaterOrEqual(t, nonNil, 10, "the error paths were actually taken")
	var logged int
	for _, l := range logs {
		text := l.String()
		logged += len(l.lines)
		require.NotContains(t, text, secretPart)
	}
	require.GreaterOrEqual(t, logged, 5, "the log paths were actually taken")
}

// fmtErr renders an error and every error it wraps.
func fmtErr(err error) string {
	var b strings.Builder
	for e := err; e != nil; e = errors.Unwrap(e) {
		b.WriteString(e.Error())
		b.WriteString("\n")
	}
	return b.String()
}
