package deploy

import (
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"
)

// TestKustomizationFiles: kustomization.yaml lists every file of the
// directory (as a resource or a generator input) and nothing that is missing;
// every resource decodes into objects with apiVersion, kind and name.
func TestKustomizationFiles(t *testing.T) {
	_, objs := manifests(t)
	for _, kind := range []string{"StatefulSet", "Service", "Secret", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "VMServiceScrape"} {
		find(t, objs, kind, "")
	}
}

func TestStatefulSet(t *testing.T) {
	b := loadBase(t)
	if r := b.sts.Spec.Replicas; r == nil || *r != 1 {
		t.Errorf("StatefulSet replicas: want 1 in the base (an HA pair is an overlay's choice)")
	}
	for k, v := range b.sts.Spec.Selector.MatchLabels {
		if b.sts.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("StatefulSet selector %s=%s does not match the pod template's labels", k, v)
		}
	}
	if len(b.pvcs) == 0 {
		t.Errorf("the pod has no persistent volume")
	}
}

// TestSlogateContainer: upstream, state on the persistent volume, API token
// from the Secret, config from the generated ConfigMap, /health probes on 8490.
func TestSlogateContainer(t *testing.T) {
	b := loadBase(t)
	c := b.slogate
	args := c.args()
	if u, err := url.Parse(args["upstream.url"]); err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		t.Errorf("slogate -upstream.url=%q: want the URL of VictoriaMetrics", args["upstream.url"])
	}
	if v, w := c.mountOf(args["stateDir"]); !b.pvcs[v] || !w {
		t.Errorf("slogate -stateDir=%q must be on a writable persistent volume, is on %q", args["stateDir"], v)
	}

	tokenFile := args["api.tokenFile"]
	tokenVol, _ := c.mountOf(tokenFile)
	tokenOK := false
	for _, v := range b.pod.Volumes {
		if v.Name != tokenVol || v.Secret == nil {
			continue
		}
		for _, m := range c.VolumeMounts {
			if m.Name != v.Name {
				continue
			}
			for _, it := range v.Secret.Items {
				if path.Join(m.MountPath, it.Path) == tokenFile && b.secrets[v.Secret.SecretName][it.Key] {
					tokenOK = true
				}
			}
		}
	}
	if !tokenOK {
		t.Errorf("slogate -api.tokenFile=%q is not a key of a Secret of the base mounted at that path", tokenFile)
	}

	if _, ok := b.configMapFile(c, args["config"]); !ok {
		t.Errorf("slogate -config=%q is not a file of a ConfigMap of the base mounted there", args["config"])
	}
	// Overlays pin the version through the kustomization's images entry,
	// which only applies to an image of the same name.
	k, _ := manifests(t)
	pinned := false
	for _, im := range k.Images {
		pinned = pinned || im.Name == imageName(c.Image)
	}
	if !pinned {
		t.Errorf("slogate image %q is not named in kustomization.yaml's images, where overlays pin its version", c.Image)
	}

	if c.port("http") != "8490" || args["httpListenAddr"] != ":8490" {
		t.Errorf("slogate must listen on :8490 and name the port http")
	}
	for name, p := range map[string]*probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
		if p == nil {
			if name != "startup" {
				t.Errorf("slogate has no %s probe", name)
			}
			continue
		}
		if p.HTTPGet == nil || p.HTTPGet.Path != "/health" || c.port(p.HTTPGet.Port) != "8490" {
			t.Errorf("slogate %s probe must GET /health on 8490", name)
		}
	}
}

// imageName returns image without its tag or digest.
func imageName(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		image = image[:i]
	}
	return image
}

// TestVMAgentContainer: vmagent writes to slogate inside the pod, queues on
// the persistent volume, reads the generated scrape config, answers its
// probes, and runs the VictoriaMetrics version the tests run.
func TestVMAgentContainer(t *testing.T) {
	b := loadBase(t)
	c := b.vmagent
	args := c.args()
	// slogate's port http, on the loopback address both containers share.
	want := "http://127.0.0.1:" + b.slogate.port("http") + "/api/v1/write"
	if args["remoteWrite.url"] != want {
		t.Errorf("vmagent -remoteWrite.url=%q: want %s (slogate in the same pod)", args["remoteWrite.url"], want)
	}
	if v, w := c.mountOf(args["remoteWrite.tmpDataPath"]); !b.pvcs[v] || !w {
		t.Errorf("vmagent -remoteWrite.tmpDataPath=%q must be on the persistent volume (its queue outlives restarts)", args["remoteWrite.tmpDataPath"])
	}
	if _, ok := b.configMapFile(c, args["promscrape.config"]); !ok {
		t.Errorf("vmagent -promscrape.config=%q is not a file of a ConfigMap of the base mounted there", args["promscrape.config"])
	}
	if c.port("vmagent") != "8429" || args["httpListenAddr"] != ":8429" {
		t.Errorf("vmagent must listen on :8429 and name the port vmagent")
	}
	for name, p := range map[string]*probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/health" || c.port(p.HTTPGet.Port) != "8429" {
			t.Errorf("vmagent %s probe must GET /health on 8429", name)
		}
	}
	if want := "victoriametrics/vmagent:" + vmVersion(t); c.Image != want {
		t.Errorf("vmagent image %q: want %q, the version the tests run (scripts/install-deps.sh)", c.Image, want)
	}
}

// TestContainersHardened: every container runs as non-root on a read-only
// root filesystem without capabilities, with requests and a memory limit.
func TestContainersHardened(t *testing.T) {
	b := loadBase(t)
	psc := b.pod.SecurityContext
	for _, c := range slices.Concat(b.pod.InitContainers, b.pod.Containers) {
		sc := c.SecurityContext
		nonRoot := sc.RunAsNonRoot != nil && *sc.RunAsNonRoot || sc.RunAsNonRoot == nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
		uid := psc.RunAsUser
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
		if !nonRoot || uid == nil || *uid == 0 {
			t.Errorf("container %s must run as non-root with a non-zero runAsUser", c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s: readOnlyRootFilesystem must be true", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s: allowPrivilegeEscalation must be false", c.Name)
		}
		if !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("container %s must drop ALL capabilities", c.Name)
		}
		for _, r := range []string{"cpu", "memory"} {
			if c.Resources.Requests[r] == "" {
				t.Errorf("container %s has no %s request", c.Name, r)
			}
		}
		if c.Resources.Limits["memory"] == "" {
			t.Errorf("container %s has no memory limit", c.Name)
		}
	}
}

// TestRBAC: the pod's ServiceAccount exists and may list and watch pods
// (vmagent's kubernetes_sd_configs, role: pod).
func TestRBAC(t *testing.T) {
	b := loadBase(t)
	sa := b.pod.ServiceAccountName
	saObj := find(t, b.objs, "ServiceAccount", sa)
	var crb struct {
		RoleRef  struct{ Kind, Name string }              `yaml:"roleRef"`
		Subjects []struct{ Kind, Name, Namespace string } `yaml:"subjects"`
	}
	if err := find(t, b.objs, "ClusterRoleBinding", "").node.Decode(&crb); err != nil {
		t.Fatal(err)
	}
	if len(crb.Subjects) != 1 || crb.Subjects[0].Kind != "ServiceAccount" || crb.Subjects[0].Name != sa || crb.Subjects[0].Namespace != saObj.Metadata.Namespace {
		t.Errorf("the ClusterRoleBinding must bind ServiceAccount %s/%s, binds %+v", saObj.Metadata.Namespace, sa, crb.Subjects)
	}
	var cr struct {
		Rules []struct {
			Resources, Verbs []string
		} `yaml:"rules"`
	}
	if err := find(t, b.objs, crb.RoleRef.Kind, crb.RoleRef.Name).node.Decode(&cr); err != nil {
		t.Fatal(err)
	}
	for _, r := range cr.Rules {
		if slices.Contains(r.Resources, "pods") && slices.Contains(r.Verbs, "list") && slices.Contains(r.Verbs, "watch") {
			return
		}
	}
	t.Errorf("ClusterRole %s must allow list and watch on pods", crb.RoleRef.Name)
}

// TestServiceAndScrape: the Service selects the pod and exposes 8490; the
// VMServiceScrape selects the Service, scrapes its ports' /metrics, and
// makes job="slogate", which the alert rules select.
func TestServiceAndScrape(t *testing.T) {
	b := loadBase(t)
	svcObj := find(t, b.objs, "Service", b.sts.Spec.ServiceName)
	var svc struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				Name       string `yaml:"name"`
				Port       int    `yaml:"port"`
				TargetPort string `yaml:"targetPort"` // a number or a port name
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	if err := svcObj.node.Decode(&svc); err != nil {
		t.Fatal(err)
	}
	for k, v := range svc.Spec.Selector {
		if b.sts.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("Service selector %s=%s does not select the pod", k, v)
		}
	}
	ports := map[string]int{}
	for _, p := range svc.Spec.Ports {
		ports[p.Name] = p.Port
	}
	if ports["http"] != 8490 {
		t.Errorf("Service %s must expose port http 8490", svcObj.Metadata.Name)
	}
	// Each Service port reaches the container of its name: http slogate,
	// vmagent the sidecar (its /metrics and /targets).
	for _, p := range svc.Spec.Ports {
		var c *container
		switch p.Name {
		case "http":
			c = b.slogate
		case "vmagent":
			c = b.vmagent
		default:
			t.Errorf("Service %s port %s: no container of that name", svcObj.Metadata.Name, p.Name)
			continue
		}
		// port returns its argument when the container has no port of that name.
		if want := c.port(p.Name); want == p.Name || c.port(p.TargetPort) != want {
			t.Errorf("Service %s port %s targets %q, not the %s container's port %s", svcObj.Metadata.Name, p.Name, p.TargetPort, c.Name, p.Name)
		}
	}

	vssObj := find(t, b.objs, "VMServiceScrape", "")
	if vssObj.APIVersion != "operator.victoriametrics.com/v1beta1" {
		t.Errorf("VMServiceScrape apiVersion %q", vssObj.APIVersion)
	}
	var vss struct {
		Spec struct {
			JobLabel string `yaml:"jobLabel"`
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Endpoints []struct {
				Port string `yaml:"port"`
				Path string `yaml:"path"`
			} `yaml:"endpoints"`
		} `yaml:"spec"`
	}
	if err := vssObj.node.Decode(&vss); err != nil {
		t.Fatal(err)
	}
	for k, v := range vss.Spec.Selector.MatchLabels {
		if svcObj.Metadata.Labels[k] != v {
			t.Errorf("VMServiceScrape selector %s=%s does not select Service %s", k, v, svcObj.Metadata.Name)
		}
	}
	if job := svcObj.Metadata.Labels[vss.Spec.JobLabel]; job != "slogate" {
		t.Errorf("VMServiceScrape must give job=\"slogate\" (rules.yml selects it), gives %q", job)
	}
	scrapesSlogate := false
	for _, e := range vss.Spec.Endpoints {
		if _, ok := ports[e.Port]; !ok || e.Path != "/metrics" {
			t.Errorf("VMServiceScrape endpoint %s%s: not a Service port with /metrics", e.Port, e.Path)
		}
		scrapesSlogate = scrapesSlogate || e.Port == "http"
	}
	if !scrapesSlogate {
		t.Errorf("VMServiceScrape does not scrape slogate's port http")
	}
}
