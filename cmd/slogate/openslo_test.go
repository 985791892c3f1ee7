package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slogate/slogate/config"
)

// TestOpenSLOCommands runs `slogate openslo export` and `import` as a user
// would: export the example config, import the documents back into it.
func TestOpenSLOCommands(t *testing.T) {
	example := filepath.Join("..", "..", "config", "testdata", "example.yml")
	var docs, stderr bytes.Buffer
	if err := Run(context.Background(), []string{"openslo", "export", "-config", example}, nil, &docs, &stderr); err != nil {
		t.Fatalf("export: %v (%s)", err, stderr.String())
	}
	if n := strings.Count(docs.String(), "kind: SLO\n"); n != 5 {
		t.Fatalf("want 5 SLO documents (4 objective rules, 1 service), got %d:\n%s", n, docs.String())
	}
	file := filepath.Join(t.TempDir(), "slos.yaml")
	if err := os.WriteFile(file, docs.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"openslo", "import", "-config", example, file}, nil, &out, &stderr); err != nil {
		t.Fatalf("import: %v (%s)", err, stderr.String())
	}
	cfg, err := config.ParseConfig("imported", out.Bytes())
	if err != nil {
		t.Fatalf("imported config: %v\n%s", err, out.String())
	}
	if len(cfg.Objectives) != 4 || len(cfg.Services) != 1 || cfg.Services[0].Name != "platform" {
		t.Fatalf("imported %d objectives, %d services", len(cfg.Objectives), len(cfg.Services))
	}

	// Refusals name file and line; nothing reaches stdout.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: openslo/v1\nkind: AlertPolicy\nmetadata: {name: x}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = Run(context.Background(), []string{"openslo", "import", bad}, nil, &out, &stderr)
	if err == nil || !strings.Contains(err.Error(), bad+":2: kind: AlertPolicy is not supported") || out.Len() != 0 {
		t.Fatalf("want a refusal at %s:2, got %v and %q", bad, err, out.String())
	}
	for _, args := range [][]string{{"openslo"}, {"openslo", "convert"}, {"openslo", "import"}, {"openslo", "export", "extra"},
		{"openslo", "import", filepath.Join(t.TempDir(), "missing.yaml")}, {"openslo", "export"}} {
		if err := Run(context.Background(), args, nil, &out, &stderr); err == nil {
			t.Errorf("%v: want an error", args)
		}
	}
}
