package codesize

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxFuncLines is the longest a library function may be, counted from the
// line of its func keyword to the line of its closing brace.
const maxFuncLines = 120

// longFuncs returns "path:line name (n lines)" for every function
// declaration and function literal of the Go source src (from file path)
// longer than limit lines; a generated file gives none.
func longFuncs(fset *token.FileSet, path string, src any, limit int) ([]string, error) {
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	if ast.IsGenerated(f) {
		return nil, nil
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		var name string
		var body *ast.BlockStmt
		switch fn := n.(type) {
		case *ast.FuncDecl:
			name, body = fn.Name.Name, fn.Body
			if fn.Recv != nil && len(fn.Recv.List) == 1 {
				name = recvName(fn.Recv.List[0].Type) + "." + name
			}
		case *ast.FuncLit:
			name, body = "func literal", fn.Body
		default:
			return true
		}
		if body == nil { // assembly-backed declaration
			return true
		}
		from, to := fset.Position(n.Pos()).Line, fset.Position(body.End()).Line
		if lines := to - from + 1; lines > limit {
			out = append(out, fmt.Sprintf("%s:%d %s (%d lines)", path, from, name, lines))
		}
		return true
	})
	return out, nil
}

// recvName names a method's receiver type as Go writes it: (*T) or T.
func recvName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return "(*" + recvName(t.X) + ")"
	case *ast.IndexExpr: // generic receiver T[P]
		return recvName(t.X)
	case *ast.IndexListExpr:
		return recvName(t.X)
	case *ast.Ident:
		return t.Name
	}
	return "?"
}

// goFiles lists the non-test Go files under dir (testdata and hidden
// directories excepted), skipping the top-level directories of root named
// in skip.
func goFiles(root, dir string, skip ...string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			name := d.Name()
			if slices.Contains(skip, rel) || name == "testdata" || (p != dir && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}

// longIn returns the functions over maxFuncLines in files, with paths
// relative to root.
func longIn(t *testing.T, root string, files []string) []string {
	t.Helper()
	fset := token.NewFileSet()
	var long []string
	for _, p := range files {
		rel, err := filepath.Rel(root, p)
		require.NoError(t, err)
		l, err := longFuncs(fset, filepath.ToSlash(rel), mustRead(t, p), maxFuncLines)
		require.NoError(t, err)
		long = append(long, l...)
	}
	return long
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// repoRoot is the repository root, two levels up.
func repoRoot(t *testing.T) string {
	root := filepath.Join("..", "..")
	_, err := os.Stat(filepath.Join(root, "go.mod"))
	require.NoError(t, err, "the repository root is two levels up")
	return root
}

// No library function (outside examples/ and internal/, the test helpers)
// is longer than maxFuncLines.
func TestNoLongFunctions(t *testing.T) {
	root := repoRoot(t)
	files, err := goFiles(root, root, "examples", "internal")
	require.NoError(t, err)
	// the walk must reach the library (a wrong root would pass vacuously)
	require.Greater(t, len(files), 100)
	assert.Empty(t, longIn(t, root, files), "functions over %d lines: split them into named steps", maxFuncLines)
}

// exampleExceptions are example functions known to be over maxFuncLines,
// to be split: a new one fails TestExamplesNoNewLongFunctions, one split
// away is simply no longer found.
var exampleExceptions = []string{"examples/custom/main.go run"}

// The examples are read as much as the library: no function over
// maxFuncLines beyond the known exceptions (which are listed in the log).
func TestExamplesNoNewLongFunctions(t *testing.T) {
	root := repoRoot(t)
	files, err := goFiles(root, filepath.Join(root, "examples"))
	require.NoError(t, err)
	require.Greater(t, len(files), 20)
	for _, l := range longIn(t, root, files) {
		// "path:line name (n lines)" -> "path name"
		path, rest, _ := strings.Cut(l, ":")
		_, name, _ := strings.Cut(rest, " ")
		name, _, _ = strings.Cut(name, " (")
		if slices.Contains(exampleExceptions, path+" "+name) {
			t.Logf("known: %s", l)
			continue
		}
		t.Errorf("%s: over %d lines, split it into named steps", l, maxFuncLines)
	}
}

// The checker counts from the func line to the closing brace, flags a
// function one line over the limit and not one at it, sees function
// literals and methods, and skips generated files and bodiless
// (assembly) declarations.
func TestLongFuncsCounts(t *testing.T) {
	fn := func(name string, lines int) string {
		// a function of exactly `lines` lines: header, lines-2 statements, brace
		return "func " + name + "() {\n" + strings.Repeat("\t_ = 0\n", lines-2) + "}\n"
	}
	src := "package p\n\n" + fn("atLimit", 120) + fn("over", 121) +
		"type T struct{}\n\nfunc (t *T) " + strings.TrimPrefix(fn("method", 130), "func ") +
		"var v = func() {\n" + strings.Repeat("\t_ = 0\n", 123) + "}\n" +
		"func asm(x int) int\n"
	fset := token.NewFileSet()
	got, err := longFuncs(fset, "p.go", src, 120)
	require.NoError(t, err)
	// lines: package 1, blank 2, atLimit 3-122, over 123-243, type 244,
	// blank 245, method 246-375, the literal 376-500
	assert.Equal(t, []string{
		"p.go:123 over (121 lines)",
		"p.go:246 (*T).method (130 lines)",
		"p.go:376 func literal (125 lines)",
	}, got)
	// the same file, generated, is not checked
	got, err = longFuncs(fset, "g.go", "// Code generated by hand. DO NOT EDIT.\n\n"+src, 120)
	require.NoError(t, err)
	assert.Empty(t, got)
}
