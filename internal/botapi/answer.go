package botapi

import (
	"fmt"
	"time"
)

// Answer is the envelope of every Bot API answer; R is the type the caller
// decodes the method's result into.
type Answer[R any] struct {
	OK          bool   `json:"ok"`
	ErrorCode   int    `json:"error_code"`
	Description string `json:"description"`
	Result      R      `json:"result"`
	Parameters  *struct {
		RetryAfter      int   `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

// APIError is an answer of the Bot API other than ok.
type APIError struct {
	Code        int
	Description string
	RetryAfter  time.Duration
	MigrateTo   int64 // the new id of a group upgraded to a supergroup
}

func (e *APIError) Error() string {
	return fmt.Sprintf("telegram API error %d: %s", e.Code, e.Description)
}

// Err is the error of an answer that came with the HTTP status: its
// error_code, or the status when it has none.
func (a *Answer[R]) Err(status int) *APIError {
	e := &APIError{Code: a.ErrorCode, Description: a.Description}
	if e.Code == 0 {
		e.Code = status
	}
	if p := a.Parameters; p != nil {
		if p.RetryAfter > 0 {
			e.RetryAfter = time.Duration(p.RetryAfter) * time.Second
		}
		e.MigrateTo = p.MigrateToChatID
	}
	return e
}
