package telegram_actions

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/procblocking/procblocking/internal/testkit/botapitest"
)

func errorsContaining(log *testutil.CaptureLogger, part string) int {
	n := 0
	for _, e := range log.Errors() {
		if strings.Contains(e, part) {
			n++
		}
	}
	return n
}

// Another poller of the bot (elsewhere), then a webhook set while the input
// runs: each is one error naming the cause, and the poll goes on once it is
// gone; the webhook is never deleted.
func TestConflictsLoggedAndOutlasted(t *testing.T) {
	srv := botapitest.New(t, token)
	log := &testutil.CaptureLogger{}
	in := newInput(t, srv, filepath.Join(t.TempDir(), "offset.json"))
	in.Log = log
	var acc testutil.Accumulator
	require.NoError(t, in.Start(&acc))
	defer in.Stop()
	waitPolls(t, srv, 2)

	// A poll of another agent takes the updates: Telegram ends the input's.
	resp, err := srv.Client().Post(srv.URL()+"/bot"+token+"/getUpdates", "application/json", strings.NewReader(`{"timeout":0}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Eventually(t, func() bool { return errorsContaining(log, "Another poller takes this bot's updates") == 1 },
		60*time.Second, 10*time.Millisecond, "%v", log.Errors())

	resp, err = srv.Client().Post(srv.URL()+"/bot"+token+"/setWebhook", "application/json", strings.NewReader(`{"url":"https://hooks.example.org/hidden"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Eventually(t, func() bool {
		return errorsContaining(log, "the bot has a webhook set (https://hooks.example.org/...)") == 1
	},
		60*time.Second, 10*time.Millisecond, "%v", log.Errors())
	require.Zero(t, srv.WebhookDeletes())

	// Removed by its owner: the input polls again and handles presses.
	resp, err = srv.Client().Post(srv.URL()+"/bot"+token+"/setWebhook", "application/json", strings.NewReader(`{"url":""}`))
	require.NoError(t, err)
	resp.Body.Close()
	msg := alertWithButtons(t, srv, "0123456789abcdef")
	_, err = srv.Press(chatID, msg, botapitest.User{ID: alice}, "ack:0123456789abcdef")
	require.NoError(t, err)
	acc.Wait(1)
	for _, e := range log.Errors() {
		require.NotContains(t, e, "SECRET")
		require.NotContains(t, e, "hidden")
	}
}

// The Bot API over TLS with a CA of its own, given as tls_ca, as the
// output takes it.
func TestTLSWithOwnCA(t *testing.T) {
	srv := botapitest.NewTLS(t, token)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	in := newInput(t, srv, filepath.Join(t.TempDir(), "offset.json"))
	in.TLSCA = ca
	require.NoError(t, in.Init())
	var acc testutil.Accumulator
	require.NoError(t, in.Start(&acc))
	defer in.Stop()
	msg := alertWithButtons(t, srv, "0123456789abcdef")
	waitPolls(t, srv, 2)
	_, err := srv.Press(chatID, msg, botapitest.User{ID: alice}, "ack:0123456789abcdef")
	require.NoError(t, err)
	acc.Wait(1)
	require.Equal(t, "ack", acc.GetTelegrafMetrics()[0].Tags()["action"])

	// Without the CA the certificate is refused: the poll fails and says so.
	log := &testutil.CaptureLogger{}
	other := newInput(t, srv, filepath.Join(t.TempDir(), "offset.json"))
	other.Log = log
	in.Stop()
	require.NoError(t, other.Start(&acc))
	defer other.Stop()
	require.Eventually(t, func() bool { return errorsContaining(log, "certificate") > 0 }, 60*time.Second, 10*time.Millisecond)
}
