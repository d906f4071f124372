package backbone

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// packageDoc returns the go doc of this package's exported identifiers, as
// `go doc` shows them.
func packageDoc(t *testing.T) *doc.Package {
	t.Helper()
	fset := token.NewFileSet()
	files := map[string]*ast.File{}
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, parser.ParseComments)
		require.NoError(t, err)
		files[n] = f
	}
	p, err := doc.NewFromFiles(fset, mapValues(files), "github.com/llmrec/llmrec/backbone")
	require.NoError(t, err)
	return p
}

func mapValues(m map[string]*ast.File) []*ast.File {
	var out []*ast.File
	for _, f := range m {
		out = append(out, f)
	}
	return out
}

func funcDoc(p *doc.Package, name string) string {
	for _, f := range p.Funcs {
		if f.Name == name {
			return f.Doc
		}
	}
	for _, ty := range p.Types {
		for _, f := range append(ty.Funcs, ty.Methods...) {
			if f.Name == name {
				return f.Doc
			}
		}
	}
	return ""
}

func fieldDoc(p *doc.Package, typ, field string) string {
	for _, ty := range p.Types {
		if ty.Name != typ {
			continue
		}
		for _, spec := range ty.Decl.Specs {
			st, ok := spec.(*ast.TypeSpec).Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, f := range st.Fields.List {
				for _, n := range f.Names {
					if n.Name == field {
						return f.Doc.Text()
					}
				}
			}
		}
	}
	return ""
}

// Issue 21, sharp edges that are documentation: each is checked where
// `go doc` shows it (before: NewItemEncoder said "see the kinds above",
// pointing at a detached comment go doc does not show; nothing said the
// .json beside a model is not read; MinLR and CosineSchedule.Min differ in
// kind, absolute and fraction, without a word).
func TestSharpEdgesDocumented(t *testing.T) {
	p := packageDoc(t)
	enc := funcDoc(p, "NewItemEncoder")
	for _, kind := range []string{"AdapterTable", "IDTable", "NormalizedTable", "ConcatTable", "TextItemTable", "SeqModel().Items"} {
		require.Contains(t, enc, kind, "NewItemEncoder's doc")
	}
	require.NotContains(t, enc, "see the kinds above")
	js := funcDoc(p, "JSONPath")
	require.Contains(t, js, "not the source")
	require.Contains(t, js, "changes nothing")
	require.Contains(t, funcDoc(p, "Load"), "editing the .json")
	require.Contains(t, fieldDoc(p, "TrainConfig", "MinLR"), "absolute rate")
	require.Contains(t, fieldDoc(p, "CosineSchedule", "Min"), "fraction")
	require.Contains(t, funcDoc(p, "SeqModel"), "NewItemEncoder", "Recommender.SeqModel's doc")
}
