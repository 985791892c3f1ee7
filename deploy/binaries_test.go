package deploy

// Tests that hand the deployment files to the real tools: vmagent and the
// slogate binary check the container arguments, vmagent the scrape config,
// kubectl's kustomize the base and the overlay recipe of its comments.

import (
	"bytes"
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

// TestContainerFlags runs the real binaries with the manifest's arguments,
// so a misspelt or removed flag fails here and not in a crash-looping pod:
// vmagent checks them with -dryRun, slogate parses them and stops at -h.
func TestContainerFlags(t *testing.T) {
	b := loadBase(t)
	var vmArgs []string
	for _, a := range b.vmagent.Args {
		switch k, _, _ := strings.Cut(a, "="); k {
		case "-promscrape.config":
			a = k + "=" + filepath.Join(k8sDir, "scrape.yml")
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

// TestKustomizeBuild renders the base with kubectl's built-in kustomize
// when kubectl is installed: the generated ConfigMap's hashed name must
// reach the pod.
func TestKustomizeBuild(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed; the other tests check the files one by one")
	}
	out, err := exec.Command(kubectl, "kustomize", k8sDir).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %s\n%s", k8sDir, err, out)
	}
	name := regexp.MustCompile(`(?m)^  name: (slogate-config-[a-z0-9]+)$`).FindSubmatch(out)
	if name == nil {
		t.Fatalf("no hashed slogate-config ConfigMap in the kustomize output")
	}
	if bytes.Count(out, name[1]) < 2 {
		t.Errorf("the StatefulSet does not reference the generated ConfigMap %s", name[1])
	}
	if !bytes.Contains(out, []byte("namespace: monitoring")) {
		t.Errorf("kustomize output has no namespace")
	}

	// The overlay recipe of the comments in kustomization.yaml and
	// secret.yaml: set the token, drop the VMServiceScrape, add a prefix.
	base, err := filepath.Abs(k8sDir)
	if err != nil {
		t.Fatal(err)
	}
	overlay := t.TempDir()
	// kustomize takes bases only as relative paths.
	base, err = filepath.Rel(overlay, base)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(overlay, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("token", "s3cret-token\n")
	write("kustomization.yaml", `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [`+base+`]
namePrefix: prod-
secretGenerator:
  - name: slogate-api-token
    behavior: replace
    files: [token]
generatorOptions: {disableNameSuffixHash: true}
patches: [{patch: '{"$patch": "delete", "apiVersion": "operator.victoriametrics.com/v1beta1", "kind": "VMServiceScrape", "metadata": {"name": "slogate"}}'}]
`)
	out, err = exec.Command(kubectl, "kustomize", overlay).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize of the documented overlay: %s\n%s", err, out)
	}
	for _, want := range []string{
		"token: czNjcmV0LXRva2VuCg==", // base64 of the token file
		"secretName: prod-slogate-api-token",
		"serviceName: prod-slogate",
		"name: kube-root-ca.crt", // the cluster's, never prefixed
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("documented overlay: output lacks %q", want)
		}
	}
	if bytes.Contains(out, []byte("kind: VMServiceScrape")) {
		t.Errorf("documented overlay: the VMServiceScrape delete patch did not apply")
	}
}
