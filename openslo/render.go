package openslo

import (
	"bytes"
	"fmt"
	"maps"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/config"
)

// ruleYAML is an objective rule or a service as the config file spells it.
type ruleYAML struct {
	Name        string            `yaml:"name,omitempty"`
	Kind        string            `yaml:"kind,omitempty"`
	Match       map[string]string `yaml:"match,omitempty,flow"`
	By          []string          `yaml:"by,omitempty,flow"`
	SLO         float64           `yaml:"slo"`
	SLA         float64           `yaml:"sla,omitempty"`
	Window      string            `yaml:"window"`
	Timezone    string            `yaml:"timezone,omitempty"`
	Budgeting   string            `yaml:"budgeting,omitempty"`
	Slice       string            `yaml:"slice,omitempty"`
	SliceTarget float64           `yaml:"sliceTarget,omitempty"`
	EmptySlices string            `yaml:"emptySlices,omitempty"`
	Credits     []creditYAML      `yaml:"credits,omitempty,flow"`
}

type creditYAML struct {
	Below   float64 `yaml:"below"`
	Percent float64 `yaml:"percent"`
}

type presetYAML struct {
	Name string  `yaml:"name"`
	LE   float64 `yaml:"le"`
}

func (ru *rule) yaml() ruleYAML {
	y := ruleYAML{Name: ru.name, Kind: ru.kind, Match: ru.match, By: ru.by, SLO: ru.slo, SLA: ru.sla,
		Window: ru.window, Timezone: ru.tz, Budgeting: ru.budgeting, Slice: ru.slice, SliceTarget: ru.sliceTarget,
		EmptySlices: ru.emptySlices}
	if len(y.Match) == 0 {
		y.Match = nil
	}
	if ru.credits != "" {
		tiers, _ := parseCredits(ru.credits) // checked when read
		for _, t := range tiers {
			y.Credits = append(y.Credits, creditYAML(t))
		}
	}
	return y
}

// render writes the config: the base file with its objectives and
// services replaced, or the imported objectives and services with the
// presets they need.
func (im *importer) render() ([]byte, error) {
	var objectives, services []ruleYAML
	for i := range im.rules {
		if im.rules[i].service {
			services = append(services, im.rules[i].yaml())
		} else {
			objectives = append(objectives, im.rules[i].yaml())
		}
	}
	// The base file's document keeps its comments.
	doc := yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	if im.base != nil {
		var d yaml.Node
		if err := yaml.Unmarshal(im.base.Data, &d); err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", im.base.Name, err)
		}
		if len(d.Content) > 0 && d.Content[0].Kind == yaml.MappingNode {
			doc = d
		}
	}
	root := doc.Content[0]
	if im.base == nil {
		doc.HeadComment = "slogate config from OpenSLO documents (slogate openslo import); see README \"OpenSLO\"."
		if len(im.presetLE) > 0 {
			// Naming presets turns the default (every availability
			// preset) off: name those too, then the latency ones.
			var presets []any
			for _, s := range config.Presets() {
				if s.Kind == budget.Availability {
					presets = append(presets, s.Name)
				}
			}
			for _, name := range slices.Sorted(maps.Keys(im.presetLE)) {
				presets = append(presets, presetYAML{Name: name, LE: im.presetLE[name]})
			}
			if err := setKey(root, "presets", presets); err != nil {
				return nil, err
			}
		}
	}
	if err := setKey(root, "objectives", objectives); err != nil {
		return nil, err
	}
	if err := setKey(root, "services", services); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("cannot write config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("cannot write config: %w", err)
	}
	return buf.Bytes(), nil
}

// setKey sets key of mapping m to v, in place of an earlier value; an
// empty list removes the key.
func setKey[T any](m *yaml.Node, key string, v []T) error {
	at := -1
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			at = i
			break
		}
	}
	if len(v) == 0 {
		if at >= 0 {
			m.Content = slices.Delete(m.Content, at, at+2)
		}
		return nil
	}
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return fmt.Errorf("cannot write %s: %w", key, err)
	}
	if at >= 0 {
		m.Content[at+1] = &n
		return nil
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, &n)
	return nil
}
