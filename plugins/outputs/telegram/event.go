package telegram

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/influxdata/telegraf"

	"github.com/procblocking/procblocking/internal/textutil"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/botclient"
	"github.com/procblocking/procblocking/plugins/outputs/telegram/internal/queue"
)

// toEvent takes from a metric what the queue keeps. Metrics without text to
// send are logged and skipped: they never block the ones behind them.
func (t *Telegram) toEvent(m telegraf.Metric) (queue.Event, bool) {
	raw, ok := m.GetField(t.TextField)
	text, isString := raw.(string)
	if !ok || !isString {
		t.Log.Errorf("Dropping %q metric: no string field %q to send", m.Name(), t.TextField)
		return queue.Event{}, false
	}
	// Cut now: a longer text is cut anyway when sent, and the queue stays
	// bounded.
	text = textutil.Truncate(botclient.Sanitize(text), botclient.MaxTextRunes)
	if strings.TrimSpace(text) == "" {
		t.Log.Errorf("Dropping %q metric: its field %q is empty", m.Name(), t.TextField)
		return queue.Event{}, false
	}
	kind, _ := m.GetTag("event")
	ev := queue.Event{ID: identity(m), Kind: kind, Text: text}
	if id, ok := m.GetField("alert_id"); ok {
		if s, ok := id.(string); ok && s != "" {
			ev.AlertIDs = []string{s}
		}
	}
	if ids, ok := m.GetField("alert_ids"); ok {
		if s, ok := ids.(string); ok {
			ev.AlertIDs = append(ev.AlertIDs, strings.Fields(s)...)
		}
	}
	if id, ok := m.GetField("request_message_id"); ok {
		if id, ok := id.(int64); ok && id > 0 {
			ev.ReplyTo = id
		}
	}
	return ev, true
}

// identity hashes what makes an event unique: name, tags, fields and time.
// A batch Telegraf sends again has the same identities.
func identity(m telegraf.Metric) uint64 {
	h := fnv.New64a()
	write := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	write(m.Name())
	for _, tag := range m.TagList() {
		write(tag.Key)
		write(tag.Value)
	}
	fields := slices.Clone(m.FieldList())
	slices.SortFunc(fields, func(a, b *telegraf.Field) int { return strings.Compare(a.Key, b.Key) })
	for _, f := range fields {
		write(f.Key)
		write(fieldString(f.Value))
	}
	write(strconv.FormatInt(m.Time().UnixNano(), 10))
	return h.Sum64()
}

func fieldString(v any) string {
	switch v := v.(type) {
	case float64:
		return "f" + strconv.FormatUint(math.Float64bits(v), 16)
	case string:
		return "s" + v
	default:
		return fmt.Sprintf("%T%v", v, v)
	}
}
