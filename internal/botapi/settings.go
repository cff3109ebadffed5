// Package botapi is the connection to Telegram's Bot API that the Telegram
// output and the telegram_actions input share: the checks of the connection
// settings, the HTTP client on Telegraf's transport, the call of one method
// with the token kept out of every error, and the API's error answer.
package botapi

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	httpconfig "github.com/influxdata/telegraf/plugins/common/http"
)

// ValidChatID reports whether id is a numeric chat id or an @channelname.
func ValidChatID(id string) bool {
	if name, ok := strings.CutPrefix(id, "@"); ok {
		return name != "" && !strings.ContainsAny(name, " \t\r\n/")
	}
	_, err := strconv.ParseInt(id, 10, 64)
	return err == nil
}

// CheckChatID validates the chat_id option.
func CheckChatID(id string) error {
	if !ValidChatID(id) {
		return fmt.Errorf("invalid 'chat_id' %q: want a numeric id or @channelname", id)
	}
	return nil
}

// CheckTransport validates http_proxy_url and the TLS options, so that Init
// reports them rather than the first connection.
func CheckTransport(tc *httpconfig.TransportConfig) error {
	if err := CheckProxyURL(tc.HTTPProxyURL); err != nil {
		return err
	}
	if _, err := tc.ClientConfig.TLSConfig(); err != nil {
		return fmt.Errorf("invalid TLS options ('tls_ca', 'tls_cert', 'tls_key', ...): %w", err)
	}
	return nil
}

// CheckProxyURL validates http_proxy_url; the error shows the URL without
// its password.
func CheckProxyURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("invalid 'http_proxy_url': not a URL (the value is not shown: it may hold a password)")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5":
		return fmt.Errorf("invalid 'http_proxy_url' %q: want an http, https or socks5 URL", u.Redacted())
	case u.Host == "":
		return fmt.Errorf("invalid 'http_proxy_url' %q: want a host", u.Redacted())
	}
	return nil
}
