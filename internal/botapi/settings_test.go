package botapi

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/influxdata/telegraf/config"
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

func TestCheckTokenAndChatID(t *testing.T) {
	var empty config.Secret
	require.EqualError(t, CheckTokenAndChatID(&empty, "42"), `invalid 'token' "": want the bot token from @BotFather`)

	token := config.NewSecret([]byte("1:a"))
	t.Cleanup(token.Destroy)
	require.NoError(t, CheckTokenAndChatID(&token, "42"))
	require.ErrorContains(t, CheckTokenAndChatID(&token, "alerts"), `invalid 'chat_id' "alerts"`)
}

func TestCheckTokenShapeNeverShowsTheToken(t *testing.T) {
	require.NoError(t, CheckTokenShape("987654321:AAHsecretPart_-xyz"))
	require.NoError(t, CheckTokenShape([]byte("987654321:AAHsecretPart_-xyz")))
	for _, bad := range []string{"987654321:AAHsecret/Part", "987654321:AAH?x", "AAHsecretPart", "x:AAHsecretPart", "987654321:"} {
		t.Run(bad, func(t *testing.T) {
			for _, err := range []error{CheckTokenShape(bad), CheckTokenShape([]byte(bad))} {
				require.EqualError(t, err, "invalid 'token' (the value is not shown): want the form <bot id>:<secret> from @BotFather")
			}
		})
	}
}

func TestCheckAPIURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://api.telegram.org":   "",
		"http://127.0.0.1:8081/":     "",
		"ftp://api.telegram.org":     `invalid 'api_url' "ftp://api.telegram.org": want an http or https URL`,
		"https://":                   `invalid 'api_url' "https://": want an http or https URL`,
		"api.telegram.org":           `invalid 'api_url' "api.telegram.org": want an http or https URL`,
		"https://api.telegram.org?x": `invalid 'api_url' "https://api.telegram.org?x": want no query or fragment`,
		"https://api.telegram.org#x": `invalid 'api_url' "https://api.telegram.org#x": want no query or fragment`,
	} {
		t.Run(raw, func(t *testing.T) {
			if want == "" {
				require.NoError(t, CheckAPIURL(raw))
			} else {
				require.EqualError(t, CheckAPIURL(raw), want)
			}
		})
	}
}
