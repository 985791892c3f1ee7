package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildPath string
	buildErr  error
)

// BuildSlogate builds ./cmd/slogate once per test binary into a temporary
// directory and returns the executable's path. With SLOGATE_E2E_RACE=1 the
// binary is built with -race, so end-to-end load also hunts data races
// (slower, and memory bounds in tests then do not hold).
//
// Call Main from TestMain to remove the directory when the tests end.
func BuildSlogate(t testing.TB) string {
	t.Helper()
	root := RepoRoot(t)
	buildOnce.Do(func() {
		buildPath, buildErr = build(root)
	})
	if buildErr != nil {
		t.Fatalf("cannot build slogate: %s", buildErr)
	}
	return buildPath
}

func build(root string) (string, error) {
	dir, err := os.MkdirTemp("", "slogate-e2e-bin-")
	if err != nil {
		return "", fmt.Errorf("cannot create build directory: %w", err)
	}
	buildDir = dir
	out := filepath.Join(dir, "slogate")
	args := []string{"build", "-o", out}
	if os.Getenv("SLOGATE_E2E_RACE") == "1" {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/slogate")
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %v in %s: %w\n%s", args, root, err, msg)
	}
	return out, nil
}

// Main runs the tests of a package and removes the slogate binary that
// BuildSlogate built. Use it as: func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// StartSlogate starts the slogate binary with args (as -name=value; the
// caller gives -upstream.url) and waits until GET /health answers 200. It
// listens on a free 127.0.0.1 port unless args set -httpListenAddr, and
// keeps state in a fresh temporary directory unless args set -stateDir (the
// default, ./slogate-data, would land in the package directory); a test
// restarting slogate on the same address and state passes both.
func StartSlogate(t testing.TB, args ...string) *Proc {
	t.Helper()
	return StartSlogateEnv(t, nil, args...)
}

// StartSlogateEnv is StartSlogate with extra environment variables
// ("SLOGATE_UPSTREAM_URL=..."), for tests of settings given as env vars. An
// address or state directory given as SLOGATE_HTTP_LISTEN_ADDR or
// SLOGATE_STATE_DIR is used instead of the defaults above.
func StartSlogateEnv(t testing.TB, env []string, args ...string) *Proc {
	t.Helper()
	bin := BuildSlogate(t)
	addr, set := flagValue(args, "httpListenAddr")
	if !set {
		addr, set = envValue(env, "SLOGATE_HTTP_LISTEN_ADDR")
	}
	if !set {
		addr = FreeAddr(t)
		args = append([]string{"-httpListenAddr=" + addr}, args...)
	}
	if _, set := flagValue(args, "stateDir"); !set {
		if _, set := envValue(env, "SLOGATE_STATE_DIR"); !set {
			args = append([]string{"-stateDir=" + t.TempDir()}, args...)
		}
	}
	p := StartProc(t, Spec{Name: "slogate", Path: bin, Args: args, Env: env, URL: "http://" + addr})
	p.WaitHTTP(t, p.URL+"/health")
	return p
}

// envValue returns the value of the last name=value in env.
func envValue(env []string, name string) (string, bool) {
	value, set := "", false
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			value, set = v, true
		}
	}
	return value, set
}
