package gen

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ModulePath is dygen's module path; generated tests import its verify
// package and generated code its dyrt runtime package.
const ModulePath = "github.com/dygen/dygen"

// Options adjusts generation.
type Options struct {
	// Package overrides the spec's package name when non-empty.
	Package string
}

// OutputFile is one generated file: a base name (no directories) and its
// gofmt'd contents.
type OutputFile struct {
	Name string
	Data []byte
}

// Generate turns a parsed spec into the files of one Go package: per layer
// a kernel file, a test file (and, on amd64, assembly); plus the package's
// shared support files. The result is sorted by name and byte-identical from
// run to run.
func Generate(s *Spec, opt Options) ([]OutputFile, error) {
	return nil, errors.New("not yet")
}

// WriteFiles writes files into dir, creating it, and removes files that an
// earlier run generated there (they carry the dygen header) but this run did
// not, so that renaming a layer leaves nothing stale. Other files are left
// alone.
func WriteFiles(dir string, files []OutputFile) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	_ = filepath.Join
	return fmt.Errorf("not yet")
}
