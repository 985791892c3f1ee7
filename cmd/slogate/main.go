// Command slogate is an SLO and SLA error-budget engine on the
// VictoriaMetrics write path: a remote-write proxy that forwards every byte
// to VictoriaMetrics and writes synthetic error-budget series back.
//
// This package parses flags and the environment and wires the packages
// together (app.go); it holds no logic of its own that a test of another
// package could cover. It is the only place that parses flags, and nothing
// imports it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	_ "time/tzdata" // calendar windows and maintenance in any zone, also in a bare container
)

// version is set by the build (make build: -ldflags "-X main.version=...");
// without it, the module version or VCS revision Go recorded is used.
var version string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := Run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "slogate: %s\n", err)
		os.Exit(1)
	}
}

// Run runs slogate until ctx ends, then drains the requests in flight.
// args are the command-line arguments without the program name; environ
// holds the SLOGATE_* variables (a flag beats the environment, which beats
// the default).
func Run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "report" {
		return RunReport(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "openslo" {
		return RunOpenSLO(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "sloth" {
		return RunSloth(args[1:], stdout, stderr)
	}
	o, err := parseOptions(args, environ, stderr)
	if err != nil {
		return err
	}
	if o.Version {
		fmt.Fprintln(stdout, "slogate", Version())
		return nil
	}
	listen := func() (net.Listener, error) {
		ln, err := net.Listen("tcp", o.HTTPListenAddr)
		if err != nil {
			return nil, fmt.Errorf("cannot listen on -httpListenAddr %q: %w", o.HTTPListenAddr, err)
		}
		return ln, nil
	}
	return serve(ctx, o, listen, stdout, stderr)
}

// Version is slogate's version: the one the build set, else the module
// version or VCS revision recorded in the binary, else "devel".
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel-" + rev
}
