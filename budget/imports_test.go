package budget

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPure keeps the package comment true: budget does no IO and speaks no
// HTTP or YAML, neither itself nor through what it imports.
func TestPure(t *testing.T) {
	list := func(args ...string) []string {
		t.Helper()
		out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
		}
		return strings.Fields(string(out))
	}
	for _, imp := range list("-f", `{{join .Imports " "}}`, ".") {
		switch {
		case imp == "os", strings.HasPrefix(imp, "os/"), imp == "io/fs", imp == "io/ioutil",
			imp == "path/filepath", imp == "net", strings.HasPrefix(imp, "net/"), imp == "syscall":
			t.Errorf("budget imports %s: file, process and network IO belong to store, config and the HTTP packages", imp)
		}
	}
	for _, dep := range list("-deps", ".") {
		switch {
		case dep == "net/http", strings.Contains(dep, "fasthttp"), strings.Contains(dep, "yaml"):
			t.Errorf("budget depends on %s (go list -deps ./budget)", dep)
		}
	}
}
