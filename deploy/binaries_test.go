package deploy

// Tests that hand the deployment files to the real tools: vmagent and the
// slogate binary check the container arguments, vmagent the scrape config.
// kustomize_test.go renders the base and the overlay recipe of its comments.

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/slogate/slogate/internal/testenv"
)

// TestContainerFlags runs the real binaries with the manifest's arguments,
// so a misspelt or removed flag fails here and not in a crash-looping pod:
// vmagent checks them with -dryRun, slogate parses them and stops at -h.
func TestContainerFlags(t *testing.T) {
	b := loadBase(t)
	var vmArgs []string
	for _, a := range b.vmagent.Args {
		switch k, v, _ := strings.Cut(a, "="); k {
		case "-promscrape.config":
			// The scrape config the pod sees: the rendered ConfigMap's.
			data, ok := b.configMapFile(b.vmagent, v)
			if !ok {
				t.Fatalf("vmagent %s: no such file in a ConfigMap of the base", a)
			}
			file := filepath.Join(t.TempDir(), path.Base(v))
			if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			a = k + "=" + file
		case "-remoteWrite.tmpDataPath":
			a = k + "=" + t.TempDir()
		}
		vmArgs = append(vmArgs, a)
	}
	vmagent := testenv.Binary(t, testenv.VMAgentBinary)
	if out, err := exec.Command(vmagent, append(vmArgs, "-dryRun", "-loggerLevel=ERROR")...).CombinedOutput(); err != nil {
		t.Errorf("vmagent %s -dryRun: %s\n%s", strings.Join(vmArgs, " "), err, out)
	}

	slogate := testenv.BuildSlogate(t)
	args := append(slices.Clone(b.slogate.Args), "-h")
	if out, err := exec.Command(slogate, args...).CombinedOutput(); err != nil {
		t.Errorf("slogate %s: %s\n%s", strings.Join(args, " "), err, lastLines(out, 5))
	}
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// vmVersion is the VictoriaMetrics version scripts/install-deps.sh pins.
func vmVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "scripts", "install-deps.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VM_VERSION=\$\{VM_VERSION:-(v[0-9.]+)\}`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VM_VERSION default in scripts/install-deps.sh")
	}
	return string(m[1])
}

// TestScrapeConfig runs the real vmagent's config check on scrape.yml and
// checks that no target label renames the controller's own `namespace`.
func TestScrapeConfig(t *testing.T) {
	file := filepath.Join(k8sDir, "scrape.yml")
	vmagent := testenv.Binary(t, testenv.VMAgentBinary)
	out, err := exec.Command(vmagent, "-promscrape.config="+file, "-promscrape.config.dryRun", "-loggerLevel=ERROR").CombinedOutput()
	if err != nil {
		t.Fatalf("vmagent -promscrape.config.dryRun: %s\n%s", err, out)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName             string `yaml:"job_name"`
			HonorLabels         bool   `yaml:"honor_labels"`
			KubernetesSDConfigs []struct {
				Role string `yaml:"role"`
			} `yaml:"kubernetes_sd_configs"`
			RelabelConfigs []struct {
				TargetLabel string `yaml:"target_label"`
			} `yaml:"relabel_configs"`
		} `yaml:"scrape_configs"`
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, sc := range cfg.ScrapeConfigs {
		if sc.JobName != "ingress-nginx" {
			continue
		}
		found = len(sc.KubernetesSDConfigs) > 0
		for _, r := range sc.RelabelConfigs {
			// The ingress-nginx preset identifies routes by namespace,
			// ingress, host, path: a target label of the same name would
			// move the metric's own to exported_<name>.
			if slices.Contains([]string{"namespace", "ingress", "host", "path", "status"}, r.TargetLabel) && !sc.HonorLabels {
				t.Errorf("scrape job %s sets target label %q, which renames the controller's own label", sc.JobName, r.TargetLabel)
			}
		}
	}
	if !found {
		t.Errorf("scrape.yml has no ingress-nginx job with kubernetes_sd_configs")
	}
}
