// Package vmclient is slogate's one client of VictoriaMetrics (single node,
// or vminsert and vmselect of a cluster): it forwards the writes it
// intercepts and every passed-through request, writes the synthetic series,
// and reads back through the query, export, flush and tenant APIs. Every
// answer is classified once (Classify): accepted, retryable or permanent.
//
// The write path runs on fasthttp (pooled, allocation-free); the few reads
// use net/http, whose response bodies stream (an export of a month is large).
// Both take their timeouts from one Config. It must not import the packages
// that use it (proxy, synthetic, ui) nor store or config.
package vmclient

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/slogate/slogate/budget"
)

// Config configures a Client. Zero fields take the defaults named.
type Config struct {
	// URL of VictoriaMetrics for writes and passed-through requests, e.g.
	// http://127.0.0.1:8428 or a vminsert http://vminsert:8480. A path
	// prefix is kept in front of every path. Required.
	URL string
	// ReadURL serves queries and exports: a single node (default URL) or
	// vmselect (http://vmselect:8481) for a cluster.
	ReadURL string
	// Cluster selects vminsert and vmselect paths
	// (/insert/<tenant>/prometheus/..., /select/<tenant>/prometheus/...).
	Cluster bool
	// Timeout of one request: a forwarded write or pass-through, a
	// synthetic write, a query, a flush. Default 30s.
	Timeout time.Duration
	// ExportTimeout bounds one export (a restart replay or a backfill of a
	// whole compliance window). Default 30m.
	ExportTimeout time.Duration
	// MaxConns to the write URL. Default 512.
	MaxConns int
	// MaxResponseBodySize of a forwarded answer and of a query answer, in
	// bytes. Default 256 MiB.
	MaxResponseBodySize int
	// Dial replaces the TCP dialer (in-process tests use in-memory
	// listeners); addr is host:port.
	Dial func(addr string) (net.Conn, error)
}

func (c *Config) defaults() {
	if c.ReadURL == "" {
		c.ReadURL = c.URL
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.ExportTimeout <= 0 {
		c.ExportTimeout = 30 * time.Minute
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 512
	}
	if c.MaxResponseBodySize <= 0 {
		c.MaxResponseBodySize = 256 << 20
	}
}

// Client talks to VictoriaMetrics. It is safe for concurrent use.
type Client struct {
	cfg      Config
	base     string // URL without a trailing slash
	readBase string // ReadURL without a trailing slash
	hc       *fasthttp.HostClient
	http     *http.Client // reads; each request also carries a deadline
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	cfg.defaults()
	base, addr, tls, err := parseURL("-upstream.url", cfg.URL)
	if err != nil {
		return nil, err
	}
	readBase, _, _, err := parseURL("-upstream.readURL", cfg.ReadURL)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.ResponseHeaderTimeout = cfg.Timeout
	var dial fasthttp.DialFunc
	if cfg.Dial != nil {
		dial = fasthttp.DialFunc(cfg.Dial)
		transport.DialContext = func(_ context.Context, _, addr string) (net.Conn, error) { return cfg.Dial(addr) }
	}
	return &Client{
		cfg:      cfg,
		base:     base,
		readBase: readBase,
		hc: &fasthttp.HostClient{
			Addr:                     addr,
			Name:                     "slogate",
			IsTLS:                    tls,
			Dial:                     dial,
			MaxConns:                 cfg.MaxConns,
			MaxResponseBodySize:      cfg.MaxResponseBodySize,
			ReadTimeout:              cfg.Timeout,
			WriteTimeout:             cfg.Timeout,
			MaxIdleConnDuration:      time.Minute,
			NoDefaultUserAgentHeader: true,
			// A write is retried by its sender, not here: retrying inside
			// the proxy would hide an upstream outage from it.
			MaxIdemponentCallAttempts: 1,
			DisablePathNormalizing:    true,
		},
		// No client-wide timeout: an export streams for up to
		// ExportTimeout; every request sets its own deadline.
		http: &http.Client{Transport: transport},
	}, nil
}

// parseURL checks a VictoriaMetrics URL and returns it without a trailing
// slash, and its host:port.
func parseURL(flag, s string) (base, addr string, tls bool, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", false, fmt.Errorf("cannot parse %s %q: %w", flag, s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", "", false, fmt.Errorf("cannot use %s %q: scheme must be http or https", flag, s)
	}
	if u.Host == "" {
		return "", "", false, fmt.Errorf("cannot use %s %q: no host", flag, s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", "", false, fmt.Errorf("cannot use %s %q: query and fragment are not allowed", flag, s)
	}
	addr = u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			addr += ":443"
		} else {
			addr += ":80"
		}
	}
	return u.Scheme + "://" + u.Host + strings.TrimSuffix(u.EscapedPath(), "/"), addr, u.Scheme == "https", nil
}

// URL returns the write URL.
func (c *Client) URL() string { return c.base }

// ReadURL returns the URL queries and exports go to.
func (c *Client) ReadURL() string { return c.readBase }

// Cluster reports whether the client uses vminsert and vmselect paths.
func (c *Client) Cluster() bool { return c.cfg.Cluster }

// WritePath is the remote-write path of tenant t: /api/v1/write on a
// single node for the zero tenant, else vminsert's
// /insert/<accountID>:<projectID>/prometheus/api/v1/write (vminsert serves
// every tenant, 0:0 included, there).
func (c *Client) WritePath(t budget.Tenant) string {
	if !c.cfg.Cluster && t == (budget.Tenant{}) {
		return "/api/v1/write"
	}
	return "/insert/" + t.String() + "/prometheus/api/v1/write"
}

// readPath prefixes a Prometheus API path (/api/v1/...) for tenant t.
func (c *Client) readPath(t budget.Tenant, path string) string {
	if c.cfg.Cluster {
		return c.readBase + "/select/" + t.String() + "/prometheus" + path
	}
	return c.readBase + path
}
