package main

import (
	"errors"
	"flag"
	"fmt"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dygen/dygen/gen"
)

var generateCmd = &command{
	name:     "generate",
	synopsis: "write the Go package of a spec's layers",
	usage:    "dygen generate -spec FILE -out DIR [-pkg NAME] [-v]",
	help: `Generate reads the layer spec FILE and writes the Go package for its layers
into DIR, creating DIR if needed: per layer a kernel file and a test file,
plus the package's support files. Files that an earlier run generated in DIR
(they start with the dygen header) but this run did not are removed; other
files are left alone. The output is byte-identical from run to run.

On success it prints nothing (with -v, the files it wrote); errors go to
standard error and the exit status is 1 (2 for a wrong command line).

Examples:

	dygen generate -spec layers.yaml -out ./dyconv
	dygen generate -spec layers.yaml -out ./internal/conv -pkg conv -v

	# In a file of the package to generate (the paths are relative to it):
	//go:generate go tool dygen generate -spec ../layers.yaml -out .
`,
}

func init() {
	generateCmd.setup = func(fs *flag.FlagSet) func(stdout, stderr io.Writer) int {
		spec := fs.String("spec", "", "the layer spec `FILE` (YAML or JSON); required")
		out := fs.String("out", "", "the directory `DIR` to write the package into; required")
		pkg := fs.String("pkg", "", "the Go package `NAME` to emit (default: the spec's package)")
		verbose := fs.Bool("v", false, "list the files written")
		return func(stdout, stderr io.Writer) int {
			c := generateCmd
			if *spec == "" {
				return usageError(c, stderr, "-spec is required")
			}
			if *out == "" {
				return usageError(c, stderr, "-out is required")
			}
			if *pkg != "" && !isPackageName(*pkg) {
				return usageError(c, stderr, "-pkg %q is not a valid Go package name (want an identifier such as dyconv)", *pkg)
			}
			s, err := loadSpec(*spec)
			if err != nil {
				return failf(c, stderr, "%v", err)
			}
			files, err := gen.Generate(s, gen.Options{Package: *pkg})
			if err != nil {
				return failf(c, stderr, "%s", withFile(*spec, err))
			}
			if err := gen.WriteFiles(*out, files); err != nil {
				return failf(c, stderr, "writing the package into %s: %v", *out, err)
			}
			if *verbose {
				for _, f := range files {
					fmt.Fprintln(stdout, filepath.Join(*out, f.Name))
				}
				name := *pkg
				if name == "" {
					name = s.Package
				}
				fmt.Fprintf(stdout, "dygen: wrote package %s (%d layers, %d files) from %s into %s\n",
					name, len(s.Layers), len(files), *spec, *out)
			}
			return exitOK
		}
	}
}

var planCmd = &command{
	name:     "plan",
	synopsis: "print how each layer of a spec will be computed",
	usage:    "dygen plan -spec FILE",
	help: `Plan reads the layer spec FILE and prints each layer's plan: its shapes, the
interior that needs no padding checks, the fused kernel layout and the
unrolling and register blocking of the generated kernel. It writes nothing.

Example:

	dygen plan -spec layers.yaml
`,
}

func init() {
	planCmd.setup = func(fs *flag.FlagSet) func(stdout, stderr io.Writer) int {
		spec := fs.String("spec", "", "the layer spec `FILE` (YAML or JSON); required")
		return func(stdout, stderr io.Writer) int {
			c := planCmd
			if *spec == "" {
				return usageError(c, stderr, "-spec is required")
			}
			s, err := loadSpec(*spec)
			if err != nil {
				return failf(c, stderr, "%v", err)
			}
			var b strings.Builder
			fmt.Fprintf(&b, "spec %s: package %s, %d layers\n", *spec, s.Package, len(s.Layers))
			for _, l := range s.Layers {
				pl, err := gen.NewPlan(l)
				if err != nil {
					return failf(c, stderr, "%s:%d: layer %s: %v", *spec, l.Line, l.Name, err)
				}
				b.WriteString("\n")
				b.WriteString(pl.Describe())
			}
			io.WriteString(stdout, b.String())
			return exitOK
		}
	}
}

// loadSpec loads a spec file; its errors name the file.
func loadSpec(path string) (*gen.Spec, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("spec file %s does not exist", path)
	case err != nil:
		return nil, fmt.Errorf("spec file %s: %v", path, err)
	case st.IsDir():
		return nil, fmt.Errorf("spec file %s is a directory; -spec takes a YAML or JSON file", path)
	}
	s, err := gen.LoadSpec(path)
	if err != nil {
		return nil, withFile(path, err)
	}
	if len(s.Layers) == 0 {
		return nil, fmt.Errorf("%s: the spec has no layers", path)
	}
	return s, nil
}

// withFile makes sure that an error about a spec names the spec file.
func withFile(path string, err error) error {
	if strings.Contains(err.Error(), path) {
		return err
	}
	return fmt.Errorf("%s: %w", path, err)
}

// isPackageName reports whether s can name a Go package.
func isPackageName(s string) bool {
	return token.IsIdentifier(s) && s != "_" && s != "main"
}
