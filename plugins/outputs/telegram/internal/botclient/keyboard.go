package botclient

import "context"

// InlineButton is a button under a message: a press sends CallbackData to
// the bot.
type InlineButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data"`
}

// InlineKeyboard is the buttons under a message, row by row.
type InlineKeyboard struct {
	InlineKeyboard [][]InlineButton `json:"inline_keyboard"`
}

// EditMarkupRequest is the JSON body of editMessageReplyMarkup; without
// reply_markup it removes the keyboard.
type EditMarkupRequest struct {
	ChatID      string          `json:"chat_id"`
	MessageID   int64           `json:"message_id"`
	ReplyMarkup *InlineKeyboard `json:"reply_markup,omitempty"`
}

// EditMessageReplyMarkup replaces (or, without one, removes) a message's
// inline keyboard.
func (c *Client) EditMessageReplyMarkup(ctx context.Context, req *EditMarkupRequest) error {
	_, err := c.call(ctx, "editMessageReplyMarkup", req, 0)
	return err
}
