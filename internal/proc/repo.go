package proc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// FindRepoRoot walks up from the working directory to the directory of
// go.mod. It needs no testing.TB, so programs such as the bench harness use
// it too.
func FindRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("cannot get working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod in the working directory or any parent")
		}
		dir = parent
	}
}
