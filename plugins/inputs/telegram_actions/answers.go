package telegram_actions

import (
	"fmt"
	"time"
)

// answers are the short texts a press is answered with (shown for a few
// seconds on top of the chat), in one language.
type answers struct {
	acked      string
	unknown    string
	notAllowed func(userID int64) string
	snoozed    func(until time.Time) string
}

var languages = map[string]answers{
	"en": {
		acked:      "✔ Acknowledged: no more reminders for this job",
		unknown:    "This button is not known",
		notAllowed: func(id int64) string { return fmt.Sprintf("⛔ Not allowed (your user id: %d)", id) },
		snoozed:    func(until time.Time) string { return "🔕 Snoozed until " + until.Format("Jan 2 15:04") },
	},
	"ru": {
		acked:      "✔ Принято: повторов по этой задаче больше не будет",
		unknown:    "Неизвестная кнопка",
		notAllowed: func(id int64) string { return fmt.Sprintf("⛔ Нет прав (ваш id: %d)", id) },
		snoozed:    func(until time.Time) string { return "🔕 Отложено до " + until.Format("02.01 15:04") },
	},
}
