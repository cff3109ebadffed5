// Package catalog turns Telegraf configurations into the build tags that
// compile the plugins they use into a binary, as Telegraf's own
// tools/custom_builder does for Telegraf: every upstream plugin is registered
// from plugins/<type>/all/<name>.go behind the constraint
// `!custom || <type> || <type>.<name>`, so `-tags custom,inputs.cpu` compiles
// in the cpu input and no other.
package catalog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// telegrafModule is the import path the catalog's package paths start with.
const telegrafModule = "github.com/influxdata/telegraf"

// categories are the plugin types, each the first part of a configuration's
// [[<type>.<name>]] tables and of the build tags.
var categories = []string{"aggregators", "inputs", "outputs", "parsers", "processors", "secretstores", "serializers"}

// Catalog is every plugin a build can include: Telegraf's, each with the tag
// that selects it, and the project's own, which are always compiled in.
type Catalog struct {
	// tag maps "<type>.<name>", the name a configuration uses, to the build
	// tag that compiles the plugin in; "" for the project's own plugins.
	tag map[string]string
	// format maps inputs, processors and outputs to the data format they use
	// when the configuration names none (from their sample configuration).
	format map[string]string
	// telegraf names the Telegraf source in errors: "Telegraf v1.39.3" when
	// it is a module cache directory, which carries the version.
	telegraf string
}

// loadCatalog reads the plugins of the Telegraf source tree at telegrafDir
// (its plugins/<type>/all directories) and the project's own under ownDir
// (laid out as plugins/<type>/<plugin>).
func loadCatalog(telegrafDir, ownDir string) (*Catalog, error) {
	c := &Catalog{tag: map[string]string{}, format: map[string]string{}, telegraf: "Telegraf"}
	if _, version, ok := strings.Cut(filepath.Base(telegrafDir), "@"); ok {
		c.telegraf += " " + version
	}
	for _, category := range categories {
		if err := c.addUpstream(telegrafDir, category); err != nil {
			return nil, err
		}
		if err := c.addOwn(ownDir, category); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// addUpstream adds the plugins that Telegraf registers from plugins/<category>/all.
func (c *Catalog) addUpstream(telegrafDir, category string) error {
	allDir := filepath.Join(telegrafDir, "plugins", category, "all")
	entries, err := os.ReadDir(allDir)
	if err != nil {
		return fmt.Errorf("reading Telegraf's plugin list: %w", err)
	}
	found := 0
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		file := filepath.Join(allDir, e.Name())
		tag, pkgs, err := parseAllFile(file, category)
		if err != nil {
			return err
		}
		if tag == "" {
			continue // all.go: the package clause alone
		}
		for _, pkg := range pkgs {
			rel, ok := strings.CutPrefix(pkg, telegrafModule+"/")
			if !ok {
				return fmt.Errorf("%s: import %q is outside Telegraf", file, pkg)
			}
			dir := filepath.Join(telegrafDir, filepath.FromSlash(rel))
			if err := c.addPackage(dir, category, tag); err != nil {
				return err
			}
		}
		found++
	}
	if found == 0 {
		return fmt.Errorf("%s registers no plugin: not a Telegraf source tree", allDir)
	}
	return nil
}

// addOwn adds the plugins of the project's plugins/<category>/<plugin> packages.
func (c *Catalog) addOwn(ownDir, category string) error {
	entries, err := os.ReadDir(filepath.Join(ownDir, category))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := c.addPackage(filepath.Join(ownDir, category, e.Name()), category, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseAllFile returns the tag of a plugins/<category>/all file (the
// `<category>.<name>` term of its build constraint) and the packages it imports.
func parseAllFile(file, category string) (string, []string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly|parser.ParseComments)
	if err != nil {
		return "", nil, err
	}
	var tag string
	for _, group := range f.Comments {
		if group.Pos() > f.Package {
			break
		}
		for _, line := range group.List {
			if !constraint.IsGoBuild(line.Text) {
				continue
			}
			expr, err := constraint.Parse(line.Text)
			if err != nil {
				return "", nil, fmt.Errorf("%s: %w", file, err)
			}
			expr.Eval(func(t string) bool {
				if strings.HasPrefix(t, category+".") {
					tag = t
				}
				return false
			})
		}
	}
	var pkgs []string
	for _, imp := range f.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", file, err)
		}
		pkgs = append(pkgs, p)
	}
	if tag == "" && len(pkgs) > 0 {
		return "", nil, fmt.Errorf("%s: no %s.<name> term in its build constraint", file, category)
	}
	return tag, pkgs, nil
}

// addPackage adds the plugins that the package in dir registers.
func (c *Catalog) addPackage(dir, category, tag string) error {
	names, err := registeredNames(dir, category)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("%s: no call of %s.Add found", dir, category)
	}
	var format string
	if category == "inputs" || category == "processors" || category == "outputs" {
		if format, err = sampleDataFormat(dir); err != nil {
			return err
		}
	}
	for _, name := range names {
		key := category + "." + name
		if prev, ok := c.tag[key]; ok && prev != tag {
			return fmt.Errorf("%s.%s is registered under two build tags, %q and %q", category, name, prev, tag)
		}
		c.tag[key] = tag
		if format != "" {
			c.format[key] = format
		}
	}
	return nil
}

// registeredNames finds the names a plugin package registers: the first
// argument of each <category>.Add or <category>.AddStreaming call, a string
// literal or a package-level constant or variable holding one.
func registeredNames(dir, category string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	consts := map[string]string{}
	var args []ast.Expr
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		// Only the files built for this platform: a plugin's non-Linux stub
		// may register another name (synproxy's registers "slab").
		if ok, err := build.Default.MatchFile(dir, name); err != nil || !ok {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.GenDecl:
				collectStringConsts(d, consts)
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.Name == "init" && d.Body != nil {
					args = append(args, registerCalls(d.Body, category)...)
				}
			}
		}
	}
	seen := map[string]bool{}
	var names []string
	for _, arg := range args {
		var name string
		switch a := arg.(type) {
		case *ast.BasicLit:
			name, _ = strconv.Unquote(a.Value)
		case *ast.Ident:
			name = consts[a.Name]
		}
		if name == "" {
			return nil, fmt.Errorf("%s: cannot tell the name %s.Add registers at %s", dir, category, fset.Position(arg.Pos()))
		}
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names, nil
}

func collectStringConsts(d *ast.GenDecl, consts map[string]string) {
	if d.Tok != token.CONST && d.Tok != token.VAR {
		return
	}
	for _, spec := range d.Specs {
		vs, ok := spec.(*ast.ValueSpec)
		if !ok || len(vs.Names) != len(vs.Values) {
			continue
		}
		for i, v := range vs.Values {
			if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					consts[vs.Names[i].Name] = s
				}
			}
		}
	}
}

// registerCalls returns the first argument of each <category>.Add(...) or
// <category>.AddStreaming(...) call in body.
func registerCalls(body *ast.BlockStmt, category string) []ast.Expr {
	var args []ast.Expr
	ast.Inspect(body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "Add" && sel.Sel.Name != "AddStreaming") {
			return true
		}
		if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == category {
			args = append(args, call.Args[0])
		}
		return true
	})
	return args
}

// dataFormatLine is a data_format setting in a sample configuration,
// commented out (the default) or not.
var dataFormatLine = regexp.MustCompile(`^\s*#?\s*data_format\s*=\s*"(.*)"\s*$`)

// sampleDataFormat returns the data format in the plugin's sample
// configuration, or "" when it has none (the plugin takes no data format).
func sampleDataFormat(dir string) (string, error) {
	confs, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil {
		return "", err
	}
	for _, conf := range confs {
		f, err := os.Open(conf)
		if err != nil {
			return "", err
		}
		scanner := bufio.NewScanner(f)
		for scanner.Scan() {
			if m := dataFormatLine.FindStringSubmatch(scanner.Text()); m != nil {
				_ = f.Close() // only read
				return m[1], nil
			}
		}
		_ = f.Close() // only read
		if err := scanner.Err(); err != nil {
			return "", fmt.Errorf("reading %s: %w", conf, err)
		}
	}
	return "", nil
}

// Load reads the catalog of the module in the current directory: the
// Telegraf source its go.mod requires (downloaded if need be) and its own
// plugins/ directory.
func Load() (*Catalog, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return nil, fmt.Errorf("finding go.mod: %w", commandError(err))
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if root == "." || root == "/dev" { // GOMOD is "" or /dev/null outside a module
		return nil, errors.New("not inside a Go module: run it from this project's directory")
	}
	telegrafDir, err := telegrafSource()
	if err != nil {
		return nil, err
	}
	return loadCatalog(telegrafDir, filepath.Join(root, "plugins"))
}

// telegrafSource returns the directory of the Telegraf module that go.mod
// requires, downloading it if it is not in the module cache yet.
func telegrafSource() (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", telegrafModule).Output()
	if err != nil {
		return "", fmt.Errorf("finding Telegraf's source: %w", commandError(err))
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", fmt.Errorf("finding Telegraf's source: %w", err)
	}
	if m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("finding Telegraf's source: %s", m.Error)
	}
	return m.Dir, nil
}

// commandError adds what a failed command printed on stderr.
func commandError(err error) error {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && len(exitErr.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(exitErr.Stderr))
	}
	return err
}
