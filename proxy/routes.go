package proxy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/valyala/fasthttp"
)

// route is one entry of the route table.
type route struct {
	path    string
	prefix  bool // path ends in "/" and matches every path below it
	class   int  // self-metrics class (routeAPI, ...); -1: the handler counts
	handler fasthttp.RequestHandler
}

// routeTable maps the normalised request path to a handler: exact paths
// first, then the longest prefix. A path it does not hold is passed through.
type routeTable struct {
	exact    map[string]*route
	prefixes []*route // longest first
}

// build fills the table with the built-in routes and the given ones (see
// Config.Routes). A path given twice is an error.
func (t *routeTable) build(builtin []route, extra map[string]fasthttp.RequestHandler) error {
	t.exact = map[string]*route{}
	all := builtin
	for path, h := range extra {
		class := routePage
		if strings.HasPrefix(path, "/slogate/api/") {
			class = routeAPI
		}
		all = append(all, route{path: path, prefix: strings.HasSuffix(path, "/"), class: class, handler: h})
	}
	for i := range all {
		r := &all[i]
		if !strings.HasPrefix(r.path, "/") || r.handler == nil {
			return fmt.Errorf("invalid route %q", r.path)
		}
		if r.prefix {
			if slices.ContainsFunc(t.prefixes, func(o *route) bool { return o.path == r.path }) {
				return fmt.Errorf("route %q given twice", r.path)
			}
			t.prefixes = append(t.prefixes, r)
			continue
		}
		if t.exact[r.path] != nil {
			return fmt.Errorf("route %q given twice", r.path)
		}
		t.exact[r.path] = r
	}
	slices.SortFunc(t.prefixes, func(a, b *route) int { return cmp.Compare(len(b.path), len(a.path)) })
	return nil
}

// lookup returns the route of a normalised path, or nil.
func (t *routeTable) lookup(path []byte) *route {
	if r := t.exact[string(path)]; r != nil {
		return r
	}
	for _, r := range t.prefixes {
		if len(path) >= len(r.path) && string(path[:len(r.path)]) == r.path {
			return r
		}
	}
	return nil
}
