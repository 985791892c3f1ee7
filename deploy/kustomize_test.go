package deploy

// The kustomize base rendered in-process by the kustomize Go API, the library
// behind `kubectl kustomize`: the tests see what a cluster receives (hashed
// ConfigMap names, namespace, labels, image pins, an overlay's prefix) on any
// machine with Go, kubectl or not.

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kustomize renders the kustomization in dir, as `kubectl kustomize dir`
// does (same defaults: load restrictions to the root, no plugins).
func kustomize(t *testing.T, dir string) []object {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("cannot render kustomization %s: %s", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatalf("cannot encode the rendering of %s: %s", dir, err)
	}
	return decodeAll(t, "kustomize build "+dir, out)
}

// TestKustomizeBase: the rendered base puts every namespaced object in
// monitoring and labels every object part-of=slogate, but leaves the
// StatefulSet's immutable selector alone; the ConfigMap generated from
// slogate.yml and scrape.yml gets a content hash, and every name the pod
// refers to resolves.
func TestKustomizeBase(t *testing.T) {
	b := loadBase(t)
	for _, kind := range []string{"StatefulSet", "Service", "Secret", "ConfigMap", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "VMServiceScrape"} {
		find(t, b.objs, kind, "")
	}
	for _, o := range b.objs {
		ns := "monitoring"
		if o.Kind == "ClusterRole" || o.Kind == "ClusterRoleBinding" {
			ns = "" // cluster-scoped
		}
		if o.Metadata.Namespace != ns {
			t.Errorf("%s %s: namespace %q, want %q", o.Kind, o.Metadata.Name, o.Metadata.Namespace, ns)
		}
		if o.Metadata.Labels["app.kubernetes.io/part-of"] != "slogate" {
			t.Errorf("%s %s has no label app.kubernetes.io/part-of=slogate", o.Kind, o.Metadata.Name)
		}
	}
	if _, ok := b.sts.Spec.Selector.MatchLabels["app.kubernetes.io/part-of"]; ok {
		t.Errorf("the StatefulSet's selector has the part-of label: selectors are immutable, an upgrade could not apply")
	}

	hashed := regexp.MustCompile(`^slogate-config-[a-z0-9]+$`)
	var generated []string
	for name, data := range b.configMaps {
		if hashed.MatchString(name) {
			generated = append(generated, name)
			for _, key := range []string{"slogate.yml", "scrape.yml"} {
				if data[key] == "" {
					t.Errorf("ConfigMap %s has no %s", name, key)
				}
			}
		}
	}
	if len(generated) != 1 {
		t.Fatalf("want one generated ConfigMap slogate-config-<hash>, have %q", generated)
	}
	mounted := false
	for _, v := range b.pod.Volumes {
		mounted = mounted || v.ConfigMap != nil && v.ConfigMap.Name == generated[0]
	}
	if !mounted {
		t.Errorf("the pod does not mount the generated ConfigMap %s", generated[0])
	}
	checkReferences(t, b)
}

// checkReferences checks that every name the StatefulSet and the
// ClusterRoleBinding refer to is an object of the rendering, but for the
// cluster's own kube-root-ca.crt, which must keep its name.
func checkReferences(t *testing.T, b *base) {
	t.Helper()
	has := func(kind, name string) bool {
		return slices.ContainsFunc(b.objs, func(o object) bool { return o.Kind == kind && o.Metadata.Name == name })
	}
	if !has("Service", b.sts.Spec.ServiceName) {
		t.Errorf("StatefulSet serviceName %q: no such Service", b.sts.Spec.ServiceName)
	}
	if !has("ServiceAccount", b.pod.ServiceAccountName) {
		t.Errorf("pod serviceAccountName %q: no such ServiceAccount", b.pod.ServiceAccountName)
	}
	rootCA := false
	for _, v := range b.pod.Volumes {
		if v.ConfigMap != nil && !has("ConfigMap", v.ConfigMap.Name) {
			t.Errorf("pod volume %s: no ConfigMap %q", v.Name, v.ConfigMap.Name)
		}
		if v.Secret != nil && !has("Secret", v.Secret.SecretName) {
			t.Errorf("pod volume %s: no Secret %q", v.Name, v.Secret.SecretName)
		}
		if v.Projected == nil {
			continue
		}
		for _, src := range v.Projected.Sources {
			if src.ConfigMap == nil {
				continue
			}
			if src.ConfigMap.Name == "kube-root-ca.crt" {
				rootCA = true
			} else if !has("ConfigMap", src.ConfigMap.Name) {
				t.Errorf("pod volume %s: no ConfigMap %q", v.Name, src.ConfigMap.Name)
			}
		}
	}
	if !rootCA {
		t.Errorf("no pod volume projects the cluster's ConfigMap kube-root-ca.crt (vmagent's CA for the Kubernetes API)")
	}
	var crb struct {
		RoleRef  struct{ Kind, Name string }   `yaml:"roleRef"`
		Subjects []struct{ Kind, Name string } `yaml:"subjects"`
	}
	if err := find(t, b.objs, "ClusterRoleBinding", "").node.Decode(&crb); err != nil {
		t.Fatal(err)
	}
	if !has(crb.RoleRef.Kind, crb.RoleRef.Name) {
		t.Errorf("ClusterRoleBinding roleRef: no %s %q", crb.RoleRef.Kind, crb.RoleRef.Name)
	}
	for _, s := range crb.Subjects {
		if !has(s.Kind, s.Name) {
			t.Errorf("ClusterRoleBinding subject: no %s %q", s.Kind, s.Name)
		}
	}
}

// TestKustomizeOverlay renders the overlay recipe of the comments in
// kustomization.yaml and secret.yaml: set the token, drop the
// VMServiceScrape, pin the image, add a name prefix.
func TestKustomizeOverlay(t *testing.T) {
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
images: [{name: ghcr.io/slogate/slogate, newTag: v1.2.3}]
`)
	b := decodeBase(t, kustomize(t, overlay))
	checkReferences(t, b)

	var secret struct {
		Data       map[string]string `yaml:"data"`
		StringData map[string]string `yaml:"stringData"`
	}
	if err := find(t, b.objs, "Secret", "prod-slogate-api-token").node.Decode(&secret); err != nil {
		t.Fatal(err)
	}
	if want := base64.StdEncoding.EncodeToString([]byte("s3cret-token\n")); secret.Data["token"] != want {
		t.Errorf("overlay Secret token %q, want %q (base64 of the token file)", secret.Data["token"], want)
	}
	// The API server merges stringData over data: the base's empty token
	// left there would win over the overlay's.
	if _, ok := secret.StringData["token"]; ok {
		t.Errorf("overlay Secret keeps the base's stringData token, which overrides the overlay's")
	}
	for _, v := range b.pod.Volumes {
		if v.Name == "api-token" && (v.Secret == nil || v.Secret.SecretName != "prod-slogate-api-token") {
			t.Errorf("overlay: the api-token volume does not mount Secret prod-slogate-api-token")
		}
	}
	if b.sts.Spec.ServiceName != "prod-slogate" {
		t.Errorf("overlay: StatefulSet serviceName %q, want prod-slogate", b.sts.Spec.ServiceName)
	}
	if b.slogate.Image != "ghcr.io/slogate/slogate:v1.2.3" {
		t.Errorf("overlay: slogate image %q, want the pinned ghcr.io/slogate/slogate:v1.2.3", b.slogate.Image)
	}
	if slices.ContainsFunc(b.objs, func(o object) bool { return o.Kind == "VMServiceScrape" }) {
		t.Errorf("overlay: the VMServiceScrape delete patch did not apply")
	}
}
