package record

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps the package a leaf: the standard library and the
// decompressors, no protocol code and no other project package.
func TestImports(t *testing.T) {
	allowed := []string{"github.com/klauspost/compress/", "github.com/pierrec/lz4/"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
	imports:
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !strings.Contains(path, ".") {
				continue
			}
			for _, prefix := range allowed {
				if strings.HasPrefix(path, prefix) {
					continue imports
				}
			}
			t.Errorf("%s imports %s", name, path)
		}
	}
}
