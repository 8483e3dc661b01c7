package gen

import (
	"errors"
	"os"
)

// LoadSpec reads and parses a spec file.
func LoadSpec(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSpec(path, data)
}

// ParseSpec parses a spec (YAML, or JSON) read from path.
func ParseSpec(path string, data []byte) (*Spec, error) {
	return nil, errors.New("not yet")
}
