// Package testenv starts the real components that end-to-end tests run
// against: VictoriaMetrics (single node and cluster), vmagent, vmalert and the
// slogate binary itself.
//
// Every process binds 127.0.0.1 on a free port, writes its log to a file in
// the test's temporary directory (printed when the test fails) and is stopped
// by t.Cleanup. The binaries come from the repository's .bin directory, which
// `make deps` fills; SLOGATE_BIN_DIR points somewhere else.
//
// Starting, waiting for and stopping processes, and free ports, belong to
// internal/proc, which returns errors; this package is the testing.TB side
// of it: it fails the test, registers the cleanup and prints logs. Only tests
// import it: programs such as the bench harness use internal/proc.
package testenv

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/slogate/slogate/internal/proc"
)

// Names of the binaries `make deps` installs into the bin directory.
const (
	VictoriaMetricsBinary = "victoria-metrics"
	VMAgentBinary         = "vmagent"
	VMAlertBinary         = "vmalert"
)

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// RepoRoot returns the directory holding go.mod, found by walking up from the
// working directory (go test runs each package in its own directory).
func RepoRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		rootDir, rootErr = proc.FindRepoRoot()
	})
	if rootErr != nil {
		t.Fatalf("cannot find repository root: %s", rootErr)
	}
	return rootDir
}

// BinDir returns the directory holding the real component binaries:
// $SLOGATE_BIN_DIR when set, else <repo root>/.bin.
func BinDir(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("SLOGATE_BIN_DIR"); dir != "" {
		return dir
	}
	return filepath.Join(RepoRoot(t), ".bin")
}

// Binary returns the path of the named executable in BinDir and fails the
// test with a hint when it is missing, so a fresh checkout says what to do
// instead of failing somewhere deep in a test.
func Binary(t testing.TB, name string) string {
	t.Helper()
	path := filepath.Join(BinDir(t), name)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("cannot find %s at %s (run make deps, or set SLOGATE_BIN_DIR): %s", name, path, err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("cannot use %s at %s: not an executable file (run make deps)", name, path)
	}
	return path
}
