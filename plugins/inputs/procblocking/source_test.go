package procblocking

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// An extra guard next to TestNeverOpensEnviron: no code of the plugin (tests
// aside) names environ, signals or writes; comments may.
func TestSourceNeverNamesEnvironOrSignals(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		require.NoError(t, err)
		f, err := parser.ParseFile(fset, name, src, 0) // comments dropped
		require.NoError(t, err)
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				require.NotContains(t, strings.ToLower(n.Value), "environ", "%s: %s", name, fset.Position(n.Pos()))
			case *ast.Ident:
				for _, banned := range []string{"Kill", "Tgkill", "Signal", "Write", "WriteFile", "Unlink", "Remove"} {
					require.NotEqual(t, banned, n.Name, "%s: %s", name, fset.Position(n.Pos()))
				}
			case *ast.ImportSpec:
				require.NotEqual(t, `"os/exec"`, n.Path.Value, name)
				require.NotEqual(t, `"os/signal"`, n.Path.Value, name)
			}
			return true
		})
	}
	require.GreaterOrEqual(t, checked, 7)
}
