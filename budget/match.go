package budget

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
)

// Bounds on a label selection: selections come from the configuration file
// and the maintenance API, are kept per route and shown on every page.
const (
	MaxMatchLabels = 32
	MaxPatternLen  = 1024
)

// LabelMatcher is one entry of a selection: an anchored regular expression
// over the value of the label Name.
type LabelMatcher struct {
	Name string
	Re   *regexp.Regexp
}

// Matchers select routes by their labels: every entry must match. Keep them
// sorted by Name, so that matching is deterministic and iterates no map.
// Contracts, objectives and maintenance windows select their routes so.
type Matchers []LabelMatcher

// Match reports whether every entry matches the value of its label, looked
// up in route, then extra, then as `source` = source; an absent label
// matches as "".
func (ms Matchers) Match(route, extra []Label, source string) bool {
	for i := range ms {
		v, ok := labelValue(route, ms[i].Name)
		if !ok {
			v, ok = labelValue(extra, ms[i].Name)
		}
		if !ok && ms[i].Name == "source" {
			v = source
		}
		if !ms[i].Re.MatchString(v) {
			return false
		}
	}
	return true
}

func labelValue(labels []Label, name string) (string, bool) {
	for i := range labels {
		if labels[i].Name == name {
			return labels[i].Value, true
		}
	}
	return "", false
}

// CompileAnchored compiles a user's pattern so that it matches whole
// values: "5.." matches "503" but not "1503".
func CompileAnchored(pattern string) (*regexp.Regexp, error) {
	if len(pattern) > MaxPatternLen {
		return nil, fmt.Errorf("pattern too long: %d bytes, at most %d", len(pattern), MaxPatternLen)
	}
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	if err != nil {
		// regexp's error repeats the anchored pattern; show the user's.
		var se *syntax.Error
		if errors.As(err, &se) {
			return nil, fmt.Errorf("invalid regexp %q: %s", pattern, se.Code)
		}
		return nil, fmt.Errorf("invalid regexp %q", pattern)
	}
	return re, nil
}

// ValidLabelName reports whether s is a Prometheus label name that users
// may set (names starting with "__" are reserved).
func ValidLabelName(s string) bool {
	if s == "" || len(s) > 128 || strings.HasPrefix(s, "__") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}
