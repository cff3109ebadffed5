package botapi

import (
	"os"
	"path/filepath"
	"testing"

	httpconfig "github.com/influxdata/telegraf/plugins/common/http"
	"github.com/stretchr/testify/require"
)

func TestValidChatID(t *testing.T) {
	for id, want := range map[string]bool{
		"-1001234567890": true,
		"42":             true,
		"@alerts":        true,
		"":               false,
		"@":              false,
		"@a b":           false,
		"@a/b":           false,
		"12a":            false,
		"alerts":         false,
	} {
		t.Run(id, func(t *testing.T) {
			require.Equal(t, want, ValidChatID(id))
			if want {
				require.NoError(t, CheckChatID(id))
			} else {
				require.EqualError(t, CheckChatID(id), `invalid 'chat_id' "`+id+`": want a numeric id or @channelname`)
			}
		})
	}
}

func TestCheckProxyURLNeverShowsThePassword(t *testing.T) {
	for raw, want := range map[string]string{
		"ftp://u:hunter2@proxy:21":  `invalid 'http_proxy_url' "ftp://u:xxxxx@proxy:21": want an http, https or socks5 URL`,
		"http://u:hunter2@":         `invalid 'http_proxy_url' "http://u:xxxxx@": want a host`,
		"http://u:hunter2@[::1":     "invalid 'http_proxy_url': not a URL (the value is not shown: it may hold a password)",
		"socks5://u:hunter2@p:1080": "",
		"http://127.0.0.1:3128":     "",
		"":                          "",
	} {
		t.Run(raw, func(t *testing.T) {
			err := CheckProxyURL(raw)
			if want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, want)
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestCheckTransport(t *testing.T) {
	var tc httpconfig.TransportConfig
	require.NoError(t, CheckTransport(&tc))

	tc.HTTPProxyURL = "ftp://u:hunter2@proxy"
	require.ErrorContains(t, CheckTransport(&tc), "invalid 'http_proxy_url'")

	tc.HTTPProxyURL = ""
	tc.TLSCA = filepath.Join(t.TempDir(), "missing-ca.pem")
	err := CheckTransport(&tc)
	require.ErrorContains(t, err, "invalid TLS options ('tls_ca', 'tls_cert', 'tls_key', ...)")
	require.ErrorIs(t, err, os.ErrNotExist)
}
