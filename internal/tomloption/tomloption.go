// Package tomloption makes Telegraf's TOML decoder name a plugin's option,
// as written in the config, when it cannot set it.
//
// The decoder (github.com/influxdata/toml) wraps the error of a field it
// cannot decode in a toml.LineError whose StructField is the Go type and
// field name, so `threshold = "abc"` is reported as
// "(alertstate.AlertState.Threshold) time: invalid duration". A plugin whose
// UnmarshalTOML calls Decode gets `invalid 'threshold' "abc": time: invalid
// duration "abc"` instead, with the same line number, defaults and check of
// unknown options as before.
package tomloption

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/influxdata/toml"

	"github.com/procblocking/procblocking/internal/textutil"
)

// Decode decodes a plugin's table into opts. T must be a struct type with the
// plugin's fields and no UnmarshalTOML method (declare `type options
// Plugin` in the method and pass `(*options)(p)`), or the decoder would call
// the method again.
func Decode[T any](decode func(interface{}) error, opts *T) error {
	err := decode(opts)
	var lineErr *toml.LineError
	if err == nil || !errors.As(err, &lineErr) || lineErr.StructField == "" {
		return err
	}
	goName := lineErr.StructField[strings.LastIndexByte(lineErr.StructField, '.')+1:]
	field, ok := reflect.TypeFor[T]().FieldByName(goName)
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
