package logkey_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// logMethods are the slog calls (and the channel engine's rate-limited
// wrapper) whose arguments after the message are key/value pairs.
var logMethods = map[string]bool{
	"Debug": true, "Info": true, "Warn": true, "Error": true, "logOnce": true,
}

// badErrKeys are spellings of the error key other than logkey.Err.
var badErrKeys = map[string]bool{"error": true, "e": true, "cause": true, "errMsg": true, "err_msg": true}

// TestOneErrorKey walks the module's non-test sources and fails on a log
// call that passes an error under a key other than "err" (a literal or a
// package constant), or under a literal "err" instead of a constant.
func TestOneErrorKey(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	files := map[string][]*ast.File{} // by directory
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == "testdata" || n == "node_modules" || strings.HasPrefix(n, ".") && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		files[filepath.Dir(path)] = append(files[filepath.Dir(path)], f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d packages: wrong root?", len(files))
	}
	for _, pkg := range files {
		consts := stringConsts(pkg)
		for _, f := range pkg {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || !logMethods[sel.Sel.Name] || len(call.Args) < 3 {
					return true
				}
				for i := 1; i+1 < len(call.Args); i++ {
					if !looksLikeErr(call.Args[i+1]) {
						continue
					}
					pos := fset.Position(call.Args[i].Pos())
					switch k := call.Args[i].(type) {
					case *ast.BasicLit:
						key, _ := strconv.Unquote(k.Value)
						switch {
						case badErrKeys[key]:
							t.Errorf("%s: error logged under key %q; use logkey.Err", pos, key)
						case key == "err":
							t.Errorf("%s: literal \"err\" key; use logkey.Err", pos)
						}
					case *ast.Ident:
						if v, ok := consts[k.Name]; ok && badErrKeys[v] {
							t.Errorf("%s: error logged under %s = %q; use logkey.Err", pos, k.Name, v)
						}
					}
				}
				return true
			})
		}
	}
}

// stringConsts returns the string-literal constants declared in files.
func stringConsts(files []*ast.File) map[string]string {
	m := map[string]string{}
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							m[name.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			}
		}
	}
	return m
}

// looksLikeErr reports whether e is an error-named value (err, serveErr,
// r.err, ...).
func looksLikeErr(e ast.Expr) bool {
	var name string
	switch v := e.(type) {
	case *ast.Ident:
		name = v.Name
	case *ast.SelectorExpr:
		name = v.Sel.Name
	default:
		return false
	}
	l := strings.ToLower(name)
	return strings.HasSuffix(l, "err") || strings.HasSuffix(name, "Err") || strings.HasSuffix(l, "error") && !strings.HasPrefix(l, "last")
}
