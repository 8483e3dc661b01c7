package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/dygen/dygen/gen"
	"github.com/dygen/dygen/internal/modtest"
)

// scratchModule is a temporary module that uses this dygen the way a
// user's module would, holding one generated package: what verify and
// bench build and run.
type scratchModule struct {
	Dir      string // the module's root
	PkgName  string // the generated package's name and folder
	PkgDir   string // Dir/PkgName
	DygenDir string // the dygen checkout the module replaces dygen with
}

// newScratchModule generates s (read from specPath) into a new temporary
// module named modName. tmpPrefix starts the temporary folder's name. On
// error nothing is left behind.
func newScratchModule(s *gen.Spec, specPath, modName, tmpPrefix string) (*scratchModule, error) {
	dygenDir, err := modtest.DygenDir()
	if err != nil {
		return nil, err
	}
	files, err := gen.Generate(s, gen.Options{})
	if err != nil {
		return nil, withFile(specPath, err)
	}
	tmp, err := os.MkdirTemp("", tmpPrefix)
	if err != nil {
		return nil, err
	}
	m := &scratchModule{Dir: tmp, PkgName: s.Package, DygenDir: dygenDir}
	if m.PkgName == "" {
		m.PkgName = "dyconv"
	}
	m.PkgDir = filepath.Join(tmp, m.PkgName)
	if err := modtest.Scaffold(tmp, modName, dygenDir); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	if err := gen.WriteFiles(m.PkgDir, files); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("writing the package into %s: %v", m.PkgDir, err)
	}
	return m, nil
}
