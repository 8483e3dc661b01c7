//go:build purego

package gen

// generatedTestTags are the build tags the generated modules' vet and tests
// run with: the tests of this package built with purego check the
// generated code built with purego too.
const generatedTestTags = "purego"
