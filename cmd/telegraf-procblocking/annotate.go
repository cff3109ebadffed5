package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/influxdata/telegraf/config"
)

// pluginTable is where a plugin was configured: the nth (from 0) [[table]]
// of its file.
type pluginTable struct {
	logName string // as Telegraf names it in errors: inputs.cpu or inputs.cpu::alias
	table   string // inputs.cpu
	source  string
	nth     int
}

// annotate adds the file and line of the plugin an agent error is about:
// Telegraf's errors from Init and Connect name only the plugin, which is not
// enough with a config directory. The plugin is recognised by its name as
// Telegraf logs it, wherever the error mentions it first, rather than by the
// wording around it.
func annotate(err error, c *config.Config) error {
	msg := err.Error()
	var found []pluginTable
	at := len(msg)
	for _, p := range pluginTables(c) {
		i := indexName(msg, p.logName)
		switch {
		case i < 0 || i > at:
		case i < at:
			at, found = i, []pluginTable{p}
		default:
			found = append(found, p)
		}
	}
	if len(found) == 0 || found[0].source == "" {
		return err
	}
	p := found[0]
	for _, other := range found[1:] {
		if other.source != p.source {
			return err
		}
	}
	if len(found) == 1 {
		if line := tableLine(p.source, p.table, p.nth); line > 0 {
			return fmt.Errorf("%s:%d: %w", p.source, line, err)
		}
	}
	return fmt.Errorf("%s: %w", p.source, err)
}

// pluginTables lists every plugin of c with the table it came from. Within
// one file Telegraf keeps a plugin's tables in file order (processors are
// sorted by their 'order' option, stably).
func pluginTables(c *config.Config) []pluginTable {
	var out []pluginTable
	seen := map[[2]string]int{}
	add := func(kind, name, alias, source string) {
		table := kind + "." + name
		key := [2]string{table, source}
		p := pluginTable{logName: table, table: table, source: source, nth: seen[key]}
		if alias != "" {
			p.logName += "::" + alias
		}
		seen[key]++
		out = append(out, p)
	}
	for _, p := range c.Inputs {
		add("inputs", p.Config.Name, p.Config.Alias, p.Config.Source)
	}
	for _, p := range c.Processors {
		add("processors", p.Config.Name, p.Config.Alias, p.Config.Source)
	}
	for _, p := range c.Aggregators {
		add("aggregators", p.Config.Name, p.Config.Alias, p.Config.Source)
	}
	for _, p := range c.Outputs {
		add("outputs", p.Config.Name, p.Config.Alias, p.Config.Source)
	}
	return out
}

// indexName finds name in msg as a whole name: not followed by more of a
// name, nor by "::" and an alias.
func indexName(msg, name string) int {
	for from := 0; ; {
		i := strings.Index(msg[from:], name)
		if i < 0 {
			return -1
		}
		i += from
		rest := msg[i+len(name):]
		if rest == "" || !(isNameByte(rest[0]) || strings.HasPrefix(rest, "::")) {
			return i
		}
		from = i + 1
	}
}

func isNameByte(b byte) bool {
	return b == '_' || b == '-' || b == '.' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

// tableLine returns the line of the nth [[table]] of the file, or 0.
func tableLine(path, table string, nth int) int {
	var data io.Reader
	if path == defaultConfigName {
		data = bytes.NewReader(defaultConfig)
	} else {
		f, err := os.Open(path)
		if err != nil {
			return 0
		}
		defer func() { _ = f.Close() }()
		data = f
	}
	scanner := bufio.NewScanner(data)
	for n := 1; scanner.Scan(); n++ {
		line, _, _ := strings.Cut(scanner.Text(), "#")
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "[[") || !strings.HasSuffix(line, "]]") || strings.TrimSpace(line[2:len(line)-2]) != table {
			continue
		}
		if nth == 0 {
			return n
		}
		nth--
	}
	return 0
}
