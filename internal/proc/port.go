package proc

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
)

var (
	portsMu sync.Mutex
	// portsGiven keeps this process from handing out one port twice when
	// the kernel reuses a port number that an earlier caller has not bound
	// yet. It is per process on purpose: every caller here shares it.
	portsGiven = map[int]bool{}
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that this process has not handed out before. Another process may take it
// before the caller binds it; that race is accepted because every component
// here only takes a port on its command line.
func FreePort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("cannot find a free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if !portsGiven[port] {
			portsGiven[port] = true
			return port, nil
		}
	}
	return 0, errors.New("cannot find a free port: 100 attempts returned ports already handed out")
}

// FreeAddr returns "127.0.0.1:<port>" for a port from FreePort.
func FreeAddr() (string, error) {
	port, err := FreePort()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}
