//go:build !purego

package gen

// generatedTestTags are the build tags the generated modules' vet and tests
// run with (see purego_test.go).
const generatedTestTags = ""
