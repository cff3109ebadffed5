package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/influxdata/toml"
	"github.com/influxdata/toml/ast"
)

// Tags returns the build tags of a binary that runs the configurations at
// paths (files, or directories whose *.conf files are loaded as Telegraf loads
// a --config-directory): "custom", then the tag of every upstream plugin they
// name and of the parsers and serializers of their data formats, sorted.
func (c *Catalog) Tags(paths ...string) ([]string, error) {
	files, err := configFiles(paths)
	if err != nil {
		return nil, err
	}
	selected := map[string]bool{}
	for _, file := range files {
		if err := c.selectFile(file, selected); err != nil {
			return nil, err
		}
	}
	tags := make([]string, 0, len(selected)+1)
	for tag := range selected {
		tags = append(tags, tag)
	}
	slices.Sort(tags)
	return append([]string{"custom"}, tags...), nil
}

// configFiles expands directories into their *.conf files, walking them as
// Telegraf's config.WalkDirectory does (subdirectories included, Kubernetes'
// "..data" directories skipped).
func configFiles(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("no configuration given")
	}
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("reading configuration: %w", err)
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		n := len(files)
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if strings.HasPrefix(d.Name(), "..") {
					return filepath.SkipDir
				}
				return nil
			}
			if len(d.Name()) > len(".conf") && strings.HasSuffix(d.Name(), ".conf") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading configuration directory: %w", err)
		}
		if len(files) == n {
			return nil, fmt.Errorf("no *.conf file in configuration directory %q", p)
		}
	}
	return files, nil
}

// selectFile adds the tags the plugins of one configuration file need.
func (c *Catalog) selectFile(file string, selected map[string]bool) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("reading configuration: %w", err)
	}
	tbl, err := toml.Parse(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	for _, category := range categories {
		field, ok := tbl.Fields[category]
		if !ok {
			continue
		}
		plugins, ok := field.(*ast.Table)
		if !ok {
			return fmt.Errorf("%s: %q must hold plugin tables such as [[%s.<name>]]", file, category, category)
		}
		names := make([]string, 0, len(plugins.Fields))
		for name := range plugins.Fields {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			var instances []*ast.Table
			switch v := plugins.Fields[name].(type) {
			case *ast.Table:
				instances = []*ast.Table{v}
			case []*ast.Table:
				instances = v
			default:
				return fmt.Errorf("%s:%d: %s.%s must be a table [[%s.%s]]", file, plugins.Line, category, name, category, name)
			}
			for _, instance := range instances {
				if err := c.selectPlugin(category, name, instance, selected); err != nil {
					return fmt.Errorf("%s:%d: %w", file, instance.Line, err)
				}
			}
		}
	}
	return nil
}

// selectPlugin adds the tags of one plugin table: the plugin's own and those
// of the parser or serializer its data format needs.
func (c *Catalog) selectPlugin(category, name string, table *ast.Table, selected map[string]bool) error {
	key := category + "." + name
	tag, ok := c.tag[key]
	if !ok {
		return fmt.Errorf("unknown plugin [[%s]]: %s has no such plugin, nor has this project", key, c.telegraf)
	}
	if tag != "" {
		selected[tag] = true
	}

	format := c.format[key]
	if kv, ok := table.Fields["data_format"].(*ast.KeyValue); ok {
		s, ok := kv.Value.(*ast.String)
		if !ok {
			return fmt.Errorf("invalid 'data_format' %s in [[%s]]: must be a string", kv.Value.Source(), key)
		}
		format = s.Value
	}
	if format == "" {
		return nil
	}
	// As tools/custom_builder: inputs and processors parse their data format,
	// outputs serialize it, and processors.execd does both.
	var kinds []string
	switch {
	case category == "inputs":
		kinds = []string{"parsers"}
	case category == "processors" && name == "execd":
		kinds = []string{"parsers", "serializers"}
	case category == "processors":
		kinds = []string{"parsers"}
	case category == "outputs":
		kinds = []string{"serializers"}
	}
	for _, kind := range kinds {
		tag, ok := c.tag[kind+"."+format]
		if !ok {
			return fmt.Errorf("invalid 'data_format' %q in [[%s]]: %s has no such %s", format, key, c.telegraf, strings.TrimSuffix(kind, "s"))
		}
		if tag != "" {
			selected[tag] = true
		}
	}
	return nil
}
