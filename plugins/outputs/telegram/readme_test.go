package telegram

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
)

// fencedBlocks returns the fenced code blocks of the README section that
// starts with heading, in order, as {language, content}.
func fencedBlocks(t *testing.T, heading string) [][2]string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "\n"+heading+"\n")
	require.True(t, ok, "README has no %q", heading)
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	var blocks [][2]string
	for {
		_, rest, ok := strings.Cut(section, "```")
		if !ok {
			return blocks
		}
		lang, rest, _ := strings.Cut(rest, "\n")
		body, rest, ok := strings.Cut(rest, "```")
		require.True(t, ok, "unclosed block in %q", heading)
		blocks = append(blocks, [2]string{lang, body})
		section = rest
	}
}

// recordingProxy stands in front of the Bot API and keeps each request's
// method and body.
type recordingProxy struct {
	mu       sync.Mutex
	requests [][2]string
}

func (r *recordingProxy) handler(target string) http.Handler {
	u, _ := url.Parse(target)
	proxy := httputil.NewSingleHostReverseProxy(u)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		r.mu.Lock()
		r.requests = append(r.requests, [2]string{req.URL.Path[strings.LastIndexByte(req.URL.Path, '/')+1:], string(body)})
		r.mu.Unlock()
		proxy.ServeHTTP(w, req)
	})
}

// TestReadmeExample renders the README's example events through the real
// plugin and compares the requests and the chat with what the README shows.
func TestReadmeExample(t *testing.T) {
	blocks := fencedBlocks(t, "## Example Output")
	require.GreaterOrEqual(t, len(blocks), 6)
	require.Equal(t, "text", blocks[0][0])
	parser := &influx.Parser{}
	require.NoError(t, parser.Init())
	metrics, err := parser.Parse([]byte(blocks[0][1]))
	require.NoError(t, err)
	require.Len(t, metrics, 3)

	api := newServer(t)
	rec := &recordingProxy{}
	front := httptest.NewServer(rec.handler(api.URL()))
	t.Cleanup(front.Close)
	p := newPlugin(t, front.URL, func(p *Telegram) { p.EditAlertOnRecovery = true })
	queueWrite(t, p, metrics)
	msgs := waitMessages(t, api, 3)
	require.NoError(t, p.Close())

	var jsonBlocks []string
	for _, b := range blocks[1:] {
		if b[0] == "json" {
			jsonBlocks = append(jsonBlocks, b[1])
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.requests, len(jsonBlocks))
	for i, r := range rec.requests {
		var pretty bytes.Buffer
		require.NoError(t, json.Indent(&pretty, []byte(r[1]), "", "  "))
		require.Equal(t, jsonBlocks[i], pretty.String(), "request %d (%s)", i+1, r[0])
	}
	require.Equal(t, []string{"sendMessage", "sendMessage", "sendMessage", "editMessageText"},
		[]string{rec.requests[0][0], rec.requests[1][0], rec.requests[2][0], rec.requests[3][0]})

	var chat []string
	for _, m := range msgs {
		chat = append(chat, botapitest.VisibleText(m.Text, m.ParseMode))
	}
	last := blocks[len(blocks)-1]
	require.Equal(t, "text", last[0])
	require.Equal(t, strings.Join(chat, "\n\n")+"\n", last[1], "the chat as the README shows it")
}
