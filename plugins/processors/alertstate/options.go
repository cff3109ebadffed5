package alertstate

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/influxdata/toml"

	"github.com/procblocking/procblocking/internal/textutil"
)

// UnmarshalTOML decodes the plugin's options so that a value Telegraf's TOML
// decoder cannot set is reported as `invalid 'threshold' "abc": ...`. The
// decoder itself names the Go field instead ("(alertstate.AlertState.Threshold)
// time: invalid duration"): its table decoding wraps a field's error in a
// toml.LineError whose StructField is the Go type and field name. Decoding
// into a copy of the struct type without this method, then rewriting that
// LineError with the option's TOML name and the value as written, keeps the
// line number and everything else the decoder does (defaults, unknown
// options reported by Telegraf).
func (a *AlertState) UnmarshalTOML(decode func(interface{}) error) error {
	type options AlertState // the same fields, without this method
	err := decode((*options)(a))
	var lineErr *toml.LineError
	if err == nil || !errors.As(err, &lineErr) || lineErr.StructField == "" {
		return err
	}
	goName := lineErr.StructField[strings.LastIndexByte(lineErr.StructField, '.')+1:]
	field, ok := reflect.TypeFor[AlertState]().FieldByName(goName)
	if !ok {
		return err
	}
	name, _, _ := strings.Cut(field.Tag.Get("toml"), ",")
	var raw map[string]interface{}
	value := ""
	if decode(&raw) == nil {
		value = textutil.Truncate(fmt.Sprint(raw[name]), 60)
	}
	return &toml.LineError{Line: lineErr.Line, Err: fmt.Errorf("invalid '%s' %q: %w", name, value, lineErr.Err)}
}
