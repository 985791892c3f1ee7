package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

func TestOptionsPrecedence(t *testing.T) {
	f := func(name string, args, environ []string, check func(o options) bool) {
		t.Helper()
		o, err := parseOptions(args, environ, &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !check(o) {
			t.Fatalf("%s: got %+v", name, o)
		}
	}
	f("default", nil, nil, func(o options) bool {
		return o.HTTPListenAddr == ":8490" && o.UpstreamURL == "http://127.0.0.1:8428" && o.RetroactiveLimit == 72*time.Hour && o.MaxRequestBodySize == 32<<20
	})
	f("env over default", nil, []string{"SLOGATE_UPSTREAM_URL=http://vm:8428", "SLOGATE_MAX_REQUEST_BODY_SIZE=1MiB", "SLOGATE_COMPAT_SLOTH=true"}, func(o options) bool {
		return o.UpstreamURL == "http://vm:8428" && o.MaxRequestBodySize == 1<<20 && o.CompatSloth
	})
	f("flag over env", []string{"-upstream.url=http://flag:8428", "-maintenance.retroactiveLimit=24h"},
		[]string{"SLOGATE_UPSTREAM_URL=http://env:8428", "SLOGATE_MAINTENANCE_RETROACTIVE_LIMIT=48h"}, func(o options) bool {
			return o.UpstreamURL == "http://flag:8428" && o.RetroactiveLimit == 24*time.Hour
		})
	f("other variables are ignored", nil, []string{"UPSTREAM_URL=http://no:1", "PATH=/bin"}, func(o options) bool {
		return o.UpstreamURL == "http://127.0.0.1:8428"
	})
	f("sizes", []string{"-maxDecompressedSize=64MB"}, nil, func(o options) bool { return o.MaxDecompressedSize == 64e6 })
}

func TestOptionsErrors(t *testing.T) {
	f := func(args, environ []string, want string) {
		t.Helper()
		_, err := parseOptions(args, environ, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%q %q: got %v, want an error containing %q", args, environ, err, want)
		}
	}
	f([]string{"-nope"}, nil, "flag provided but not defined: -nope")
	f([]string{"extra"}, nil, `unexpected argument "extra"`)
	f([]string{"-snapshot.interval=soon"}, nil, "invalid value")
	f([]string{"-maxRequestBodySize=-1"}, nil, "cannot parse size")
	f(nil, []string{"SLOGATE_EVAL_INTERVAL=often"}, "SLOGATE_EVAL_INTERVAL")
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), []string{"-h"}, nil, &stdout, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Run -h: %v, want flag.ErrHelp (exit 0)", err)
	}
	help := stderr.String()
	for _, want := range []string{"Usage: slogate [flags]", "-upstream.url", "(env SLOGATE_UPSTREAM_URL)", "-httpListenAddr", "(env SLOGATE_HTTP_LISTEN_ADDR)", "-version", "slogate report"} {
		if !strings.Contains(help, want) {
			t.Errorf("-h does not say %q:\n%s", want, help)
		}
	}
	// Every option is a flag with its variable, except -version.
	flags := strings.Split(help, "\n  -")[1:]
	if len(flags) < 20 {
		t.Fatalf("-h lists %d flags:\n%s", len(flags), help)
	}
	for _, f := range flags {
		if name := strings.Fields(f)[0]; name != "version" && !strings.Contains(f, "(env SLOGATE_") {
			t.Errorf("flag -%s names no environment variable", name)
		}
	}
	if stdout.Len() != 0 {
		t.Errorf("-h wrote to stdout: %q", stdout.String())
	}
}

func TestVersion(t *testing.T) {
	var stdout bytes.Buffer
	if err := Run(context.Background(), []string{"-version"}, nil, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	got := strings.TrimSpace(stdout.String())
	if got != "slogate "+Version() || Version() == "" {
		t.Fatalf("-version printed %q, want %q", got, "slogate "+Version())
	}
}
