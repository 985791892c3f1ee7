package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slogate/slogate/internal/testenv"
)

// TestSlothRulesCommand: `slogate sloth rules -config` names the alerts and
// labels them from the sloth block; the real vmalert accepts the file.
func TestSlothRulesCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "slogate.yml")
	if err := os.WriteFile(cfg, []byte("sloth:\n  alertName: ShopHighErrorRate\n  pageLabels: {severity: \"crit\\\"ical\"}\n  ticketLabels: {severity: warning, team: shop}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "sloth.yml")
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), []string{"sloth", "rules", "-config=" + cfg, "-o=" + out}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("slogate sloth rules: %s\n%s", err, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  - alert: ShopHighErrorRate\n", "      severity: \"crit\\\"ical\"\n      sloth_severity: page\n",
		"      severity: \"warning\"\n      team: \"shop\"\n      sloth_severity: ticket\n",
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("rule file lacks %q:\n%s", want, data)
		}
	}
	if n := strings.Count(string(data), "- alert: ShopHighErrorRate"); n != 2 {
		t.Errorf("%d alerts, want 2 (page and ticket)", n)
	}
	vmalert := testenv.Binary(t, testenv.VMAlertBinary)
	if b, err := exec.Command(vmalert, "-dryRun", "-rule="+out).CombinedOutput(); err != nil {
		t.Fatalf("vmalert -dryRun: %s\n%s\n%s", err, b, data)
	}

	for _, args := range [][]string{{"sloth"}, {"sloth", "alerts"}, {"sloth", "rules", "extra"}} {
		if err := Run(context.Background(), args, nil, &stdout, &stderr); err == nil {
			t.Errorf("slogate %s: no error", strings.Join(args, " "))
		}
	}
}
