package alertstate

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// sources parses the non-test Go files of the plugin, internal packages
// included.
func sources(t *testing.T) map[string]*ast.File {
	fset := token.NewFileSet()
	files := map[string]*ast.File{}
	require.NoError(t, filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		files[path] = f
		return err
	}))
	return files
}

// The public surface of a Telegraf plugin is its plugin type: nothing else
// of the package is exported (the state machine is internal).
func TestPublicSurface(t *testing.T) {
	var exported []string
	for path, f := range sources(t) {
		if filepath.Dir(path) != "." {
			continue
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.IsExported() {
					exported = append(exported, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							exported = append(exported, s.Name.Name)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								exported = append(exported, n.Name)
							}
						}
					}
				}
			}
		}
	}
	require.Equal(t, []string{"AlertState"}, exported)
}

// Log messages start with a capital letter (Telegraf's LOGGING.md).
func TestLogMessagesStartWithACapital(t *testing.T) {
	checked := 0
	for path, f := range sources(t) {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !strings.Contains("Errorf Warnf Infof Debugf Tracef Error Warn Info Debug Trace", sel.Sel.Name) {
				return true
			}
			if recv, ok := sel.X.(*ast.SelectorExpr); !ok || recv.Sel.Name != "Log" {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			require.True(t, ok, "%s: a log message that is not a literal", path)
			text, err := strconv.Unquote(lit.Value)
			require.NoError(t, err)
			first := []rune(text)[0]
			require.True(t, unicode.IsUpper(first), "%s: %q", path, text)
			checked++
			return true
		})
	}
	require.Greater(t, checked, 10)
}
