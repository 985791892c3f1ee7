package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	_ "time/tzdata" // the shipped configs name zones (Europe/Berlin), as the slogate binary loads them

	"go.yaml.in/yaml/v3"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/config"
	"github.com/slogate/slogate/internal/testenv"
)

// TestConfigs loads the shipped configuration files the way slogate does.
func TestConfigs(t *testing.T) {
	for _, file := range []string{"slogate.example.yml", filepath.Join(k8sDir, "slogate.yml")} {
		cfg, err := config.LoadConfig(file)
		if err != nil {
			t.Errorf("%s: %s", file, err)
			continue
		}
		if len(cfg.Sources) == 0 || len(cfg.Objectives) == 0 {
			t.Errorf("%s: an example without sources or objectives shows nothing", file)
		}
		// The dashboard's customer variable and the alerts' summaries use
		// the contract label `customer`.
		for i, c := range cfg.Contracts {
			if !slices.ContainsFunc(c.Labels, func(l budget.Label) bool { return l.Name == "customer" }) {
				t.Errorf("%s: contracts[%d] has no customer label", file, i)
			}
		}
	}
}

// TestExampleConfigShape keeps deploy/slogate.example.yml complete: it has
// every top-level key of the budget package's reference example.
func TestExampleConfigShape(t *testing.T) {
	keys := func(file string) []string {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(data, &m); err != nil {
			t.Fatalf("cannot decode %s: %s", file, err)
		}
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	ref := keys(filepath.Join(testenv.RepoRoot(t), "config", "testdata", "example.yml"))
	if got := keys("slogate.example.yml"); !slices.Equal(got, ref) {
		t.Errorf("slogate.example.yml has top-level keys %v, config/testdata/example.yml has %v", got, ref)
	}
}
