package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// layout is the house: for each package, the slogate packages it may
// import (README "Packages"). A package comment states the same rule; this
// keeps both true.
var layout = map[string][]string{
	"internal/wyhash":   nil,
	"internal/prefetch": nil,
	"remotewrite":       {"internal/arena", "internal/prefetch", "internal/wyhash"},
	"internal/arena":    nil,
	"slo":               nil,
	"budget":            {"internal/arena", "internal/prefetch", "internal/wyhash", "remotewrite", "slo"},
	"maintenance":       {"budget", "slo"},
	"config":            {"budget", "maintenance", "slo"},
	"store":             {"budget", "maintenance"},
	"vmclient":          {"budget"},
	"synthetic":         {"budget", "remotewrite", "slo", "vmclient"},
	"proxy":             {"budget", "remotewrite", "vmclient"},
	"ui":                {"budget", "config", "maintenance", "slo", "store", "synthetic", "vmclient"},
	// openslo translates OpenSLO documents to and from config files:
	// bytes in, bytes out, no HTTP and no state.
	"openslo":     {"budget", "config", "slo"},
	"cmd/slogate": {"budget", "config", "openslo", "proxy", "remotewrite", "slo", "store", "synthetic", "ui", "vmclient"},
}

func TestLayout(t *testing.T) {
	const module = "github.com/slogate/slogate/"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Imports " "}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		pkg = strings.TrimPrefix(pkg, module)
		allowed, ok := layout[pkg]
		if !ok {
			// Tests, tools, the demo and the bench harness may use
			// anything; a new package of slogate's own takes its place.
			if !slices.ContainsFunc([]string{"e2e", "bench/", "deploy", "scripts/", "internal/"}, func(p string) bool { return strings.HasPrefix(pkg, p) }) {
				t.Errorf("package %s is not in the layout: add it with the packages it may import", pkg)
			}
			continue
		}
		seen[pkg] = true
		for _, imp := range strings.Fields(imports) {
			if name, ok := strings.CutPrefix(imp, module); ok && !slices.Contains(allowed, name) {
				t.Errorf("%s imports %s; it may import only %v", pkg, name, allowed)
			}
		}
	}
	for pkg := range layout {
		if !seen[pkg] {
			t.Errorf("package %s is in the layout but not in the module", pkg)
		}
	}
}
