package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/dygen/dygen/gen"
	"github.com/dygen/dygen/internal/modtest"
)

// scratchModule is a temporary module that uses this dygen the way a
// user's module would, holding one generated package: what verify and
// bench build and run.
type scratchModule struct {
	Dir      string       // the module's root
	PkgName  string       // the generated package's name and folder
	PkgDir   string       // Dir/PkgName
	DygenDir string       // the dygen checkout the module replaces dygen with
	Size     gen.CodeSize // the generated package's size

	// Failed keeps the module after Close, for the user to look into.
	Failed bool
	cmd    string    // the dygen command that made it, naming its messages
	stderr io.Writer // where progress and Close's message go
	keep   bool      // keep the module even when nothing failed
	verb   bool      // print progress
}

// progressf prints a progress line of the command when it runs verbose.
func (m *scratchModule) progressf(format string, args ...any) {
	if m.verb {
		fmt.Fprintf(m.stderr, "dygen "+m.cmd+": "+format+"\n", args...)
	}
}

// Close removes the module, or, when something failed or the user asked
// to keep it, says where it is.
func (m *scratchModule) Close() {
	if m.Failed || m.keep {
		fmt.Fprintf(m.stderr, "dygen %s: kept the generated module in %s\n", m.cmd, m.Dir)
		return
	}
	os.RemoveAll(m.Dir)
}

// newScratchModule generates s (read from specPath) into a new temporary
// module for dygen command cmd (named "dygen"+cmd, in a folder starting
// "dygen-"+cmd+"-"), which prints progress to stderr when verbose and is
// kept by Close when keep. On error nothing is left behind.
func newScratchModule(s *gen.Spec, specPath, cmd string, stderr io.Writer, keep, verbose bool) (*scratchModule, error) {
	modName, tmpPrefix := "dygen"+cmd, "dygen-"+cmd+"-"
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
	m := &scratchModule{Dir: tmp, PkgName: s.Package, DygenDir: dygenDir, Size: gen.SizeOf(files),
		cmd: cmd, stderr: stderr, keep: keep, verb: verbose}
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
