package alertstate

import "github.com/procblocking/procblocking/internal/tomloption"

// UnmarshalTOML decodes the plugin's options so that a value Telegraf's TOML
// decoder cannot set is reported as `invalid 'threshold' "abc": ...` rather
// than by the Go field's name.
func (a *AlertState) UnmarshalTOML(decode func(interface{}) error) error {
	type options AlertState // the same fields, without this method
	return tomloption.Decode(decode, (*options)(a))
}
