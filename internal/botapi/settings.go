// Package botapi is the connection to Telegram's Bot API that the Telegram
// output and the telegram_actions input share: the checks of the connection
// settings, the HTTP client on Telegraf's transport, the call of one method
// with the token kept out of every error, and the API's error answer.
package botapi

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/influxdata/telegraf/config"
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

// tokenRe is the shape of a bot token. Checking it keeps a stray '/', '?' or
// '#' from changing the request's URL.
var tokenRe = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]+$`)

// CheckTokenAndChatID validates that the token option is set and the
// chat_id option.
func CheckTokenAndChatID(token *config.Secret, chatID string) error {
	if token.Empty() {
		return errors.New(`invalid 'token' "": want the bot token from @BotFather`)
	}
	return CheckChatID(chatID)
}

// CheckTokenShape validates the token's value, opened from its secret; the
// error does not show it.
func CheckTokenShape[T string | []byte](token T) error {
	var ok bool
	switch v := any(token).(type) {
	case string:
		ok = tokenRe.MatchString(v)
	case []byte:
		ok = tokenRe.Match(v)
	}
	if !ok {
		return errors.New("invalid 'token' (the value is not shown): want the form <bot id>:<secret> from @BotFather")
	}
	return nil
}

// CheckAPIURL validates the api_url option.
func CheckAPIURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid 'api_url' %q: want an http or https URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("invalid 'api_url' %q: want no query or fragment", raw)
	}
	return nil
}
