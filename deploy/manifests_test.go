package deploy

// Decoding of the kustomize base in deploy/kubernetes into the few fields
// the tests check: the files one by one (manifests) and the base as kustomize
// renders it (loadBase, kustomize_test.go). Unknown fields are ignored: the
// real schema is the cluster's; these structs only name what slogate's
// deployment relies on.

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const k8sDir = "kubernetes"

// object is one Kubernetes object of a manifest; node keeps the whole
// document for decoding into the kind's own struct.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`

	node *yaml.Node
}

type kustomization struct {
	Resources          []string `yaml:"resources"`
	ConfigMapGenerator []struct {
		Name  string   `yaml:"name"`
		Files []string `yaml:"files"`
	} `yaml:"configMapGenerator"`
	SecretGenerator []struct {
		Files []string `yaml:"files"`
	} `yaml:"secretGenerator"`
	Images []struct {
		Name string `yaml:"name"`
	} `yaml:"images"`
}

type statefulSet struct {
	Spec struct {
		ServiceName string `yaml:"serviceName"`
		Replicas    *int   `yaml:"replicas"`
		Selector    struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		VolumeClaimTemplates []struct {
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
		} `yaml:"volumeClaimTemplates"`
	} `yaml:"spec"`
}

type podSpec struct {
	ServiceAccountName string          `yaml:"serviceAccountName"`
	SecurityContext    securityContext `yaml:"securityContext"`
	InitContainers     []container     `yaml:"initContainers"`
	Containers         []container     `yaml:"containers"`
	Volumes            []struct {
		Name   string `yaml:"name"`
		Secret *struct {
			SecretName string `yaml:"secretName"`
			Items      []struct {
				Key  string `yaml:"key"`
				Path string `yaml:"path"`
			} `yaml:"items"`
		} `yaml:"secret"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
		Projected *struct {
			Sources []struct {
				ConfigMap *struct {
					Name string `yaml:"name"`
				} `yaml:"configMap"`
			} `yaml:"sources"`
		} `yaml:"projected"`
		PersistentVolumeClaim *struct {
			ClaimName string `yaml:"claimName"`
		} `yaml:"persistentVolumeClaim"`
	} `yaml:"volumes"`
}

type securityContext struct {
	RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
	RunAsUser                *int64 `yaml:"runAsUser"`
	ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
	Capabilities             struct {
		Drop []string `yaml:"drop"`
	} `yaml:"capabilities"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	StartupProbe    *probe          `yaml:"startupProbe"`
	LivenessProbe   *probe          `yaml:"livenessProbe"`
	ReadinessProbe  *probe          `yaml:"readinessProbe"`
	SecurityContext securityContext `yaml:"securityContext"`
	Resources       struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
		SubPath   string `yaml:"subPath"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"` // a number or a port name
	} `yaml:"httpGet"`
}

// args returns the container's -flag=value arguments as a map.

func (c *container) args() map[string]string {
	m := map[string]string{}
	for _, a := range c.Args {
		k, v, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		m[k] = v
	}
	return m
}

// port resolves a probe port (number or name) to a number.
func (c *container) port(p string) string {
	for _, cp := range c.Ports {
		if cp.Name == p {
			return strconv.Itoa(cp.ContainerPort)
		}
	}
	return p
}

// decodeFile decodes every document of a multi-document YAML file.
func decodeFile(t *testing.T, file string) []object {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("cannot read %s: %s", file, err)
	}
	return decodeAll(t, file, data)
}

// decodeAll decodes every document of data, a multi-document YAML stream
// read from source.
func decodeAll(t *testing.T, source string, data []byte) []object {
	t.Helper()
	var objs []object
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("cannot decode %s: %s", source, err)
		}
		var o object
		if err := n.Decode(&o); err != nil {
			t.Fatalf("cannot decode %s: %s", source, err)
		}
		if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
			t.Fatalf("%s: a document without apiVersion, kind or metadata.name", source)
		}
		o.node = &n
		objs = append(objs, o)
	}
	if len(objs) == 0 {
		t.Fatalf("%s holds no object", source)
	}
	return objs
}

// manifests decodes kustomization.yaml and every resource it lists, and
// checks that the directory holds no YAML file the kustomization misses.
func manifests(t *testing.T) (kustomization, []object) {
	t.Helper()
	var k kustomization
	data, err := os.ReadFile(filepath.Join(k8sDir, "kustomization.yaml"))
	if err != nil {
		t.Fatalf("cannot read kustomization: %s", err)
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatalf("cannot decode kustomization.yaml: %s", err)
	}
	listed := map[string]string{} // file -> how the kustomization uses it
	for _, r := range k.Resources {
		listed[r] = "resource"
	}
	for _, g := range k.ConfigMapGenerator {
		for _, f := range g.Files {
			listed[f[strings.IndexByte(f, '=')+1:]] = "configMapGenerator " + g.Name // [key=]file
		}
	}
	for _, g := range k.SecretGenerator {
		for _, f := range g.Files {
			listed[f[strings.IndexByte(f, '=')+1:]] = "secretGenerator"
		}
	}
	entries, err := os.ReadDir(k8sDir)
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() || e.Name() == "kustomization.yaml" {
			continue
		}
		present[e.Name()] = true
		if _, ok := listed[e.Name()]; !ok {
			t.Errorf("kubernetes/%s is not listed in kustomization.yaml (resources or a generator)", e.Name())
		}
	}
	for f, use := range listed {
		if !present[f] {
			t.Errorf("kustomization.yaml lists %s (%s) but kubernetes/%s does not exist", f, use, f)
		}
	}
	var objs []object
	for _, r := range k.Resources {
		if present[r] {
			objs = append(objs, decodeFile(t, filepath.Join(k8sDir, r))...)
		}
	}
	return k, objs
}

func find(t *testing.T, objs []object, kind, name string) *object {
	t.Helper()
	for i := range objs {
		if objs[i].Kind == kind && (name == "" || objs[i].Metadata.Name == name) {
			return &objs[i]
		}
	}
	t.Fatalf("no %s %q in the manifests", kind, name)
	return nil
}

// base is the kustomize base as kustomize renders it.
type base struct {
	objs    []object
	sts     statefulSet
	pod     *podSpec
	slogate *container
	vmagent *container
	// pvcs holds the pod volumes that are persistent (claim templates or
	// persistentVolumeClaim volumes).
	pvcs map[string]bool
	// secrets maps each Secret of the base to its keys.
	secrets map[string]map[string]bool
	// configMaps maps each ConfigMap of the base (generated ones under
	// their hashed name) to its data.
	configMaps map[string]map[string]string
}

// loadBase renders deploy/kubernetes with kustomize and decodes the result.
func loadBase(t *testing.T) *base {
	t.Helper()
	return decodeBase(t, kustomize(t, k8sDir))
}

// decodeBase decodes the objects of a rendered kustomization: the base's,
// or an overlay's.
func decodeBase(t *testing.T, objs []object) *base {
	t.Helper()
	b := &base{objs: objs, pvcs: map[string]bool{}, secrets: map[string]map[string]bool{}, configMaps: map[string]map[string]string{}}
	if err := find(t, b.objs, "StatefulSet", "").node.Decode(&b.sts); err != nil {
		t.Fatalf("cannot decode the StatefulSet: %s", err)
	}
	b.pod = &b.sts.Spec.Template.Spec
	for i := range b.pod.Containers {
		switch b.pod.Containers[i].Name {
		case "slogate":
			b.slogate = &b.pod.Containers[i]
		case "vmagent":
			b.vmagent = &b.pod.Containers[i]
		}
	}
	if b.slogate == nil || b.vmagent == nil {
		t.Fatalf("the StatefulSet's pod must have containers named slogate and vmagent")
	}
	for _, v := range b.sts.Spec.VolumeClaimTemplates {
		b.pvcs[v.Metadata.Name] = true
	}
	for _, v := range b.pod.Volumes {
		if v.PersistentVolumeClaim != nil {
			b.pvcs[v.Name] = true
		}
	}
	for _, o := range b.objs {
		if o.Kind == "ConfigMap" {
			var cm struct {
				Data map[string]string `yaml:"data"`
			}
			if err := o.node.Decode(&cm); err != nil {
				t.Fatal(err)
			}
			b.configMaps[o.Metadata.Name] = cm.Data
		}
		if o.Kind != "Secret" {
			continue
		}
		var s struct {
			Data       map[string]string `yaml:"data"`
			StringData map[string]string `yaml:"stringData"`
		}
		if err := o.node.Decode(&s); err != nil {
			t.Fatal(err)
		}
		keys := map[string]bool{}
		for k := range s.Data {
			keys[k] = true
		}
		for k := range s.StringData {
			keys[k] = true
		}
		b.secrets[o.Metadata.Name] = keys
	}
	return b
}

// mountOf returns the volume mounted at the deepest mount path holding
// file, and whether that mount is writable.
func (c *container) mountOf(file string) (volume string, writable bool) {
	best := ""
	for _, m := range c.VolumeMounts {
		dir := strings.TrimSuffix(m.MountPath, "/")
		if (file == dir || strings.HasPrefix(file, dir+"/")) && len(dir) > len(best) {
			best, volume, writable = dir, m.Name, !m.ReadOnly
		}
	}
	return volume, writable
}

// configMapFile returns the content of file as container c sees it, when
// file is a key of a ConfigMap of the base mounted (whole) at its directory.
func (b *base) configMapFile(c *container, file string) (string, bool) {
	vol, _ := c.mountOf(file)
	for _, v := range b.pod.Volumes {
		if v.Name != vol || v.ConfigMap == nil {
			continue
		}
		for _, m := range c.VolumeMounts {
			if m.Name == vol && m.SubPath == "" && path.Join(m.MountPath, path.Base(file)) == file {
				data, ok := b.configMaps[v.ConfigMap.Name][path.Base(file)]
				return data, ok
			}
		}
	}
	return "", false
}
