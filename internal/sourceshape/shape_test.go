package sourceshape

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Limits of the source's shape (issue #15).
const (
	maxRequestFuncs = 25  // non-handler functions that take an *http.Request
	maxMethods      = 150 // methods of one type, promoted ones included
	maxFileLines    = 600 // lines of a non-test source file outside bench/
)

// pkg is one parsed package directory: its named types' declared methods
// and embedded fields.
type pkg struct {
	methods  map[string]map[string]bool // type name → method names
	embedded map[string][]string        // type name → embedded type names (same package)
}

// source parses every non-test Go file of the module, outside bench/ and
// testdata/, by directory.
func source(t *testing.T) (map[string]*pkg, map[string]*ast.File, *token.FileSet) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	pkgs := map[string]*pkg{}
	files := map[string]*ast.File{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "bench" || n == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files[rel] = f
		dir := filepath.Dir(rel)
		p := pkgs[dir]
		if p == nil {
			p = &pkg{methods: map[string]map[string]bool{}, embedded: map[string][]string{}}
			pkgs[dir] = p
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					continue
				}
				name := typeName(d.Recv.List[0].Type)
				if p.methods[name] == nil {
					p.methods[name] = map[string]bool{}
				}
				p.methods[name][d.Name.Name] = true
			case *ast.GenDecl:
				for _, s := range d.Specs {
					ts, ok := s.(*ast.TypeSpec)
					if !ok {
						continue
					}
					st, ok := ts.Type.(*ast.StructType)
					if !ok {
						continue
					}
					for _, fld := range st.Fields.List {
						if len(fld.Names) == 0 {
							p.embedded[ts.Name.Name] = append(p.embedded[ts.Name.Name], typeName(fld.Type))
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs, files, fset
}

// typeName is the name of a receiver or embedded type: T for T, *T, T[X]
// and pkg.T (the latter never matches a local type).
func typeName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return typeName(x.X)
	case *ast.IndexExpr:
		return typeName(x.X)
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return typeName(x.X) + "." + x.Sel.Name
	}
	return ""
}

// methodSet is the names of t's methods, its own and those promoted from
// the types it embeds.
func (p *pkg) methodSet(t string, seen map[string]bool) map[string]bool {
	out := map[string]bool{}
	if seen[t] {
		return out
	}
	seen[t] = true
	for m := range p.methods[t] {
		out[m] = true
	}
	for _, e := range p.embedded[t] {
		for m := range p.methodSet(e, seen) {
			out[m] = true
		}
	}
	return out
}

// paramType is a parameter's type as written: "*http.Request".
func paramType(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return "*" + paramType(x.X)
	case *ast.SelectorExpr:
		return paramType(x.X) + "." + x.Sel.Name
	case *ast.Ident:
		return x.Name
	}
	return ""
}

// TestSourceShape measures the source against the limits above.
func TestSourceShape(t *testing.T) {
	pkgs, files, fset := source(t)

	for dir, p := range pkgs {
		for typ := range p.methods {
			if n := len(p.methodSet(typ, map[string]bool{})); n > maxMethods {
				t.Errorf("%s.%s has %d methods, more than %d: split it", dir, typ, n, maxMethods)
			}
		}
	}

	var withRequest []string
	for rel, f := range files {
		if lines := fset.Position(f.End()).Line; lines > maxFileLines {
			t.Errorf("%s has %d lines, more than %d", rel, lines, maxFileLines)
		}
		core := strings.HasPrefix(rel, "core"+string(os.PathSeparator))
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			req, w := false, false
			for _, prm := range fd.Type.Params.List {
				switch paramType(prm.Type) {
				case "*http.Request":
					req = true
				case "http.ResponseWriter":
					w = true
				}
			}
			if core && (req || w) {
				t.Errorf("%s: %s takes an HTTP request or response in the core", rel, fd.Name.Name)
			}
			if req && !w {
				withRequest = append(withRequest, rel+": "+fd.Name.Name)
			}
		}
	}
	sort.Strings(withRequest)
	if len(withRequest) > maxRequestFuncs {
		t.Errorf("%d functions besides the handlers take an *http.Request, more than %d:\n%s",
			len(withRequest), maxRequestFuncs, strings.Join(withRequest, "\n"))
	}
	t.Logf("%d non-handler functions take an *http.Request", len(withRequest))
}

// TestCoreImportsNoHTTP: the core does not import net/http at all.
func TestCoreImportsNoHTTP(t *testing.T) {
	_, files, _ := source(t)
	for rel, f := range files {
		if !strings.HasPrefix(rel, "core"+string(os.PathSeparator)) {
			continue
		}
		for _, imp := range f.Imports {
			if imp.Path.Value == `"net/http"` {
				t.Errorf("%s imports net/http", rel)
			}
		}
	}
}
