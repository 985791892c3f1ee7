package openslo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/slogate/slogate/config"
)

// Bounds on the input: OpenSLO files are small, and a file is input that
// must not exhaust memory or crash slogate.
const (
	maxFileSize  = 4 << 20
	maxDocuments = 10_000
	maxErrors    = 20
)

// errList collects file:line errors as config does: each a
// *config.ConfigError, at most maxErrors.
type errList struct {
	errs []error
}

func (l *errList) errf(file string, n *yaml.Node, field, format string, args ...any) {
	if len(l.errs) >= maxErrors {
		return
	}
	e := &config.ConfigError{File: file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line = n.Line
	}
	l.errs = append(l.errs, e)
}

func (l *errList) err() error { return errors.Join(l.errs...) }

// document is one YAML document of a file.
type document struct {
	file string
	root *yaml.Node
}

// readDocuments splits a multi-document YAML file into its documents,
// skipping empty ones.
func readDocuments(file string, data []byte, el *errList) []document {
	if len(data) > maxFileSize {
		el.errf(file, nil, "", "too large: more than %d bytes", maxFileSize)
		return nil
	}
	var out []document
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for len(out) < maxDocuments {
		var n yaml.Node
		err := decode(dec, &n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			el.errs = append(el.errs, yamlError(file, err))
			break
		}
		root := &n
		if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
			root = root.Content[0]
		}
		if root.Kind == 0 || root.Kind == yaml.DocumentNode || isNull(root) {
			continue
		}
		out = append(out, document{file: file, root: root})
	}
	return out
}

// decode guards against panics in the YAML library.
func decode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: cannot parse: %v", r)
		}
	}()
	return dec.Decode(n)
}

// yamlError turns "yaml: line 3: msg" into an error at line 3.
func yamlError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, tail, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(n); err == nil {
				line, msg = l, tail
			}
		}
	}
	return &config.ConfigError{File: file, Line: line, Msg: "invalid YAML: " + msg}
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// resolve follows aliases (a bounded number of hops).
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 10; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// reader reads the nodes of one file, reporting into el.
type reader struct {
	file string
	el   *errList
}

func (r reader) errf(n *yaml.Node, field, format string, args ...any) {
	r.el.errf(r.file, n, field, format, args...)
}

// fields checks that n is a mapping of known keys, each once, and returns
// the values by key; nil when n is absent or null (and, with an error, when
// it is not a mapping).
func (r reader) fields(n *yaml.Node, path string, known ...string) map[string]*yaml.Node {
	if n = resolve(n); n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		r.errf(n, path, "must be a mapping, got %s", kindName(n))
		return nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		kp := joinPath(path, k.Value)
		switch {
		case k.Kind != yaml.ScalarNode:
			r.errf(k, path, "keys must be strings, got %s", kindName(k))
		case !slices.Contains(known, k.Value):
			r.errf(k, kp, "unknown field; OpenSLO v1 knows: %s", strings.Join(known, ", "))
		case out[k.Value] != nil:
			r.errf(k, kp, "given twice")
		default:
			out[k.Value] = n.Content[i+1]
		}
	}
	return out
}

// str returns a scalar's text; ok is false (with an error) for anything
// else and for an absent node.
func (r reader) str(n *yaml.Node, path string) (string, bool) {
	if n = resolve(n); n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		r.errf(n, path, "must be a string, got %s", kindName(n))
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	return n.Value, true
}

func (r reader) float(n *yaml.Node, path string) (float64, bool) {
	s, ok := r.str(n, path)
	if !ok {
		return 0, false
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		r.errf(n, path, "want a number, got %q", s)
		return 0, false
	}
	return x, true
}

func (r reader) boolean(n *yaml.Node, path string) (bool, bool) {
	s, ok := r.str(n, path)
	if !ok {
		return false, false
	}
	switch s {
	case "true", "True", "TRUE":
		return true, true
	case "false", "False", "FALSE":
		return false, true
	}
	r.errf(n, path, "want true or false, got %q", s)
	return false, false
}

func (r reader) seq(n *yaml.Node, path string) []*yaml.Node {
	if n = resolve(n); n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		r.errf(n, path, "must be a list, got %s", kindName(n))
		return nil
	}
	return n.Content
}

// strMap reads a mapping of strings to strings.
func (r reader) strMap(n *yaml.Node, path string) map[string]string {
	f := resolve(n)
	if f == nil || isNull(f) {
		return nil
	}
	if f.Kind != yaml.MappingNode {
		r.errf(f, path, "must be a mapping, got %s", kindName(f))
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(f.Content); i += 2 {
		k, v := f.Content[i], resolve(f.Content[i+1])
		if v == nil || v.Kind != yaml.ScalarNode {
			// Labels may hold lists of strings; slogate reads none of them.
			continue
		}
		out[k.Value] = v.Value
	}
	return out
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "nothing"
}

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// valueNode returns the value of key in mapping n, or nil.
func valueNode(n *yaml.Node, key string) *yaml.Node {
	if n = resolve(n); n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
