package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/slogate/slogate/config"
	"github.com/slogate/slogate/internal/testenv"
	"github.com/slogate/slogate/synthetic"
)

const slothRulesFile = "vmalert/sloth.yml"

// TestSlothRulesFile: vmalert/sloth.yml is what `slogate sloth rules`
// writes without a config, and the real vmalert accepts it.
func TestSlothRulesFile(t *testing.T) {
	got, err := os.ReadFile(slothRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	def := config.DefaultConfig().Sloth
	want := synthetic.SlothRules(synthetic.SlothAlerts{Name: def.AlertName, PageLabels: def.PageLabels, TicketLabels: def.TicketLabels})
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: regenerate it with go run ./cmd/slogate sloth rules -o deploy/%s", slothRulesFile, slothRulesFile)
	}
	abs, err := filepath.Abs(slothRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	vmalert := testenv.Binary(t, testenv.VMAlertBinary)
	if out, err := exec.Command(vmalert, "-dryRun", "-rule="+abs).CombinedOutput(); err != nil {
		t.Fatalf("vmalert -dryRun -rule=%s: %s\n%s", slothRulesFile, err, out)
	}
}
