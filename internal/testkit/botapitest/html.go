package botapitest

import (
	"errors"
	"fmt"
	"html"
	"regexp"
	"strings"
)

// allowedTags are the tags Telegram's HTML parse mode understands.
var allowedTags = map[string]bool{
	"b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true,
	"s": true, "strike": true, "del": true, "span": true, "tg-spoiler": true,
	"a": true, "tg-emoji": true, "code": true, "pre": true, "blockquote": true,
}

// maxEntityLen is the longest entity entityRe matches ("&#1234567;"): it is
// matched against that much text only, so that a text full of '&' is not
// read again for each of them.
const maxEntityLen = 10

var (
	entityRe = regexp.MustCompile(`^&(?:lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});`)
	attrRe   = regexp.MustCompile(`^\s*([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?`)
)

// ValidateHTML reports, like Telegram, why text is not valid in parse_mode
// HTML: an unsupported or unclosed tag, a mismatched end tag, or a '&' or '<'
// that is not escaped. The message names the byte offset as Telegram does.
func ValidateHTML(text string) error {
	var stack []string
	for i := 0; i < len(text); {
		switch text[i] {
		case '&':
			m := entityRe.FindString(text[i:min(i+maxEntityLen, len(text))])
			if m == "" {
				return fmt.Errorf("character '&' is reserved and must be escaped at byte offset %d", i)
			}
			i += len(m)
		case '<':
			end := strings.IndexByte(text[i:], '>')
			if end < 0 {
				return fmt.Errorf("unclosed start tag at byte offset %d", i)
			}
			inner := text[i+1 : i+end]
			if name, ok := strings.CutPrefix(inner, "/"); ok {
				name = strings.ToLower(strings.TrimSpace(name))
				if len(stack) == 0 || stack[len(stack)-1] != name {
					return fmt.Errorf("unexpected end tag at byte offset %d", i)
				}
				stack = stack[:len(stack)-1]
			} else {
				name, err := checkStartTag(inner)
				if err != nil {
					return fmt.Errorf("%w at byte offset %d", err, i)
				}
				stack = append(stack, name)
			}
			i += end + 1
		default:
			i++
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("can't find end tag corresponding to start tag %q", stack[len(stack)-1])
	}
	return nil
}

func checkStartTag(inner string) (string, error) {
	n := 0
	for n < len(inner) && (inner[n] == '-' || (inner[n] >= 'a' && inner[n] <= 'z') || (inner[n] >= 'A' && inner[n] <= 'Z')) {
		n++
	}
	name := strings.ToLower(inner[:n])
	if name == "" || !allowedTags[name] {
		return "", fmt.Errorf("unsupported start tag %q", name)
	}
	attrs := map[string]string{}
	rest := inner[n:]
	for strings.TrimSpace(rest) != "" {
		if n > 0 && rest != "" && rest[0] != ' ' && rest[0] != '\t' && rest[0] != '\n' {
			return "", fmt.Errorf("invalid attribute in start tag %q", name)
		}
		m := attrRe.FindStringSubmatch(rest)
		if m == nil {
			return "", fmt.Errorf("invalid attribute in start tag %q", name)
		}
		attrs[strings.ToLower(m[1])] = m[2] + m[3] + m[4]
		rest = rest[len(m[0]):]
	}
	switch name {
	case "a":
		if attrs["href"] == "" {
			return "", errors.New("tag \"a\" needs an href")
		}
	case "span":
		if attrs["class"] != "tg-spoiler" {
			return "", errors.New("tag \"span\" must have class \"tg-spoiler\"")
		}
	case "tg-emoji":
		if attrs["emoji-id"] == "" {
			return "", errors.New("tag \"tg-emoji\" needs an emoji-id")
		}
	}
	return name, nil
}

// VisibleText is the text Telegram shows for text sent in parseMode ("" or
// "HTML"): the tags removed and the entities decoded. Telegram's length
// limit applies to it. Text that is not valid HTML is returned as it is.
func VisibleText(text, parseMode string) string {
	if !strings.EqualFold(parseMode, "html") || ValidateHTML(text) != nil {
		return text
	}
	var b strings.Builder
	for i := 0; i < len(text); {
		switch text[i] {
		case '<':
			i += strings.IndexByte(text[i:], '>') + 1
		case '&':
			m := entityRe.FindString(text[i:min(i+maxEntityLen, len(text))])
			b.WriteString(html.UnescapeString(m))
			i += len(m)
		default:
			b.WriteByte(text[i])
			i++
		}
	}
	return b.String()
}
