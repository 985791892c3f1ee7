package main

import (
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"
)

// Target is a validated remote write URL on this machine.
type Target struct {
	// URL is the request URL as given (http only).
	URL string
	// Addr is the loopback host:port dialled; "localhost" is dialled as
	// 127.0.0.1 so that no resolver can send the load elsewhere.
	Addr string
}

// ParseTarget accepts only http URLs whose host is a loopback address
// (127.0.0.0/8, ::1) or "localhost". The load generator can saturate a
// link and a server: it must never be pointed at another machine.
func ParseTarget(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, fmt.Errorf("cannot parse target URL %q: %w", raw, err)
	}
	if u.Scheme != "http" {
		return Target{}, fmt.Errorf("cannot use target URL %q: scheme must be http", raw)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
	}
	switch ip := net.ParseIP(host); {
	case host == "localhost":
		host = "127.0.0.1"
	case ip == nil:
		return Target{}, fmt.Errorf("refusing target %q: host %q is not a loopback IP address or localhost; loadgen only sends to this machine", raw, host)
	case !ip.IsLoopback():
		return Target{}, fmt.Errorf("refusing target %q: %s is not a loopback address (127.0.0.0/8 or ::1); loadgen only sends to this machine", raw, host)
	}
	return Target{URL: raw, Addr: net.JoinHostPort(host, port)}, nil
}

// loopbackDial dials addr and refuses a connection whose peer is not a
// loopback address: a second check, at the socket, of what ParseTarget
// checked on the URL.
func loopbackDial(timeout time.Duration) fasthttp.DialFunc {
	return func(addr string) (net.Conn, error) {
		c, err := fasthttp.DialTimeout(addr, timeout)
		if err != nil {
			return nil, err
		}
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
			_ = c.Close()
			return nil, fmt.Errorf("refusing connection to %s: peer %s is not a loopback address", addr, c.RemoteAddr())
		}
		return c, nil
	}
}
