package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/slogate/slogate/internal/testenv"
)

const (
	rulesFile   = "vmalert/rules.yml"
	runbookFile = "RUNBOOK.md"
	runbookURL  = "https://github.com/slogate/slogate/blob/main/deploy/RUNBOOK.md#"
)

type rule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("cannot decode %s: %s", rulesFile, err)
	}
	var rules []rule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatalf("%s has no rules", rulesFile)
	}
	return rules
}

// TestRulesDryRun has the real vmalert parse the file: MetricsQL of every
// expression and the Go templates of every annotation.
func TestRulesDryRun(t *testing.T) {
	vmalert := testenv.Binary(t, testenv.VMAlertBinary)
	abs, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(vmalert, "-dryRun", "-rule="+abs).CombinedOutput()
	if err != nil {
		t.Fatalf("vmalert -dryRun -rule=%s: %s\n%s", rulesFile, err, out)
	}
}

// runbookAnchors returns the GitHub anchors of RUNBOOK.md's headings and
// the titles of its level-2 headings (one per alert).
func runbookAnchors(t *testing.T) (anchors map[string]bool, sections []string) {
	t.Helper()
	data, err := os.ReadFile(runbookFile)
	if err != nil {
		t.Fatal(err)
	}
	anchors = map[string]bool{}
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	inCode := false
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\n")
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inCode = !inCode
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		level := len(line) - len(strings.TrimLeft(line, "#"))
		title := strings.TrimSpace(line[level:])
		// GitHub: lower case, punctuation dropped, spaces to hyphens.
		anchors[strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(title), ""), " ", "-")] = true
		if level == 2 {
			sections = append(sections, title)
		}
	}
	return anchors, sections
}

func TestRulesAnnotationsAndRunbook(t *testing.T) {
	anchors, sections := runbookAnchors(t)
	var alerts []string
	for _, r := range loadRules(t) {
		if r.Alert == "" {
			continue
		}
		if slices.Contains(alerts, r.Alert) {
			t.Errorf("alert %s is defined twice", r.Alert)
		}
		alerts = append(alerts, r.Alert)
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("alert %s has no %s annotation", r.Alert, a)
			}
		}
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("alert %s: severity %q, want critical (page) or warning (ticket)", r.Alert, s)
		}
		anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], runbookURL)
		if !ok {
			t.Errorf("alert %s: runbook_url %q does not point into %s", r.Alert, r.Annotations["runbook_url"], runbookURL)
		} else if !anchors[anchor] {
			t.Errorf("alert %s: runbook anchor #%s is not a heading of deploy/RUNBOOK.md", r.Alert, anchor)
		}
	}
	// No stale runbook sections: every level-2 heading is an alert.
	for _, s := range sections {
		if !slices.Contains(alerts, s) {
			t.Errorf("RUNBOOK.md section %q is not an alert of %s", s, rulesFile)
		}
	}
}

// TestRulesMetrics: every expression reads the series contract, slogate's
// self-metrics, or `up` (SlogateDown).
func TestRulesMetrics(t *testing.T) {
	for _, r := range loadRules(t) {
		for _, m := range metricNames(r.Expr) {
			if !knownMetric(m) && m != "up" {
				t.Errorf("rule %s%s reads %s, which is neither in the slo_* contract nor a known slogate_* metric", r.Alert, r.Record, m)
			}
		}
	}
}

// TestBurnRateAlerts pins the multiwindow, multi-burn-rate pairs (SRE
// workbook): each long window is joined with its short window on every
// label but `window`, at the same threshold.
func TestBurnRateAlerts(t *testing.T) {
	rules := loadRules(t)
	space := regexp.MustCompile(`\s+`)
	for _, c := range []struct {
		long, short, factor, severity string
	}{
		{"1h", "5m", "14.4", "critical"},
		{"6h", "30m", "6", "critical"},
		{"1d", "2h", "3", "warning"},
		{"3d", "6h", "1", "warning"},
	} {
		want := `slo_burn_rate{window="` + c.long + `"} > ` + c.factor +
			` and ignoring(window) slo_burn_rate{window="` + c.short + `"} > ` + c.factor
		found := false
		for _, r := range rules {
			if strings.TrimSpace(space.ReplaceAllString(r.Expr, " ")) == want {
				found = true
				if r.Labels["severity"] != c.severity {
					t.Errorf("alert %s: severity %q, want %q", r.Alert, r.Labels["severity"], c.severity)
				}
			}
		}
		if !found {
			t.Errorf("no alert with expr %q", want)
		}
	}
}
