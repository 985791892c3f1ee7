package ui

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestPageScriptRendersAsServer: page.js re-renders services, routes, the
// at-risk list and the count exactly as the server renders them (the
// e2e page test checks the same through a real slogate, without
// services). It needs headless Chromium (scripts/install-chromium.sh) and
// is skipped without it or with -short.
func TestPageScriptRendersAsServer(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("cannot find %s (run scripts/install-chromium.sh, or make deps): %s", chromium, err)
	}
	p := newServicesPage(t, pageRoutes, pageServices())
	p.engine.statuses[1].MaintenanceActive = true // a route's badge, as the api service's
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: p.Handle}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() { srv.Shutdown() })
	url := "http://" + ln.Addr().String() + "/slogate/?q=acme"

	script := dumpDOM(t, chromium, url)
	if !strings.Contains(script, `id="mw-js" hidden`) {
		t.Fatalf("the script did not run:\n%s", script)
	}
	file := filepath.Join(t.TempDir(), "page.html")
	if err := os.WriteFile(file, do(p.Handle, "GET", "/slogate/?q=acme").Body(), 0o644); err != nil {
		t.Fatal(err)
	}
	server := dumpDOM(t, chromium, "file://"+file)
	for _, id := range []string{`<output id="count"`, `<section id="services-sec"`, `<table id="routes"`, `<ul id="risk-list">`} {
		a, b := element(script, id), element(server, id)
		if a == "" || a != b {
			t.Errorf("%s differs between the script's render and the server's:\nscript: %s\nserver: %s", id, a, b)
		}
	}
	if !strings.Contains(element(script, `<table id="services"`), "downtime left") {
		t.Errorf("the script's services table shows no downtime budget")
	}
	if n := strings.Count(script, `<span class="badge inmaint">in maintenance</span>`); n != 2 {
		t.Errorf("the script shows %d in-maintenance badges, want 2 (a route, a service)", n)
	}
}

// dumpDOM renders url in headless Chromium and returns the DOM after five
// seconds of virtual time (the script's first refresh).
func dumpDOM(t *testing.T, chromium, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=5000", "--dump-dom"}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, chromium, append(args, url)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || len(out) == 0 {
		t.Fatalf("cannot render %s in Chromium: %v\n%s", url, err, stderr.String())
	}
	return string(out)
}

// element returns the element opened by prefix up to its closing tag
// (first one; no nesting of the same tag), whitespace between tags removed.
func element(dom, prefix string) string {
	i := strings.Index(dom, prefix)
	if i < 0 {
		return ""
	}
	tag := strings.TrimPrefix(strings.Fields(prefix)[0], "<")
	j := strings.Index(dom[i:], "</"+tag+">")
	if j < 0 {
		return ""
	}
	return strings.TrimSpace(regexp.MustCompile(`>\s+<`).ReplaceAllString(dom[i:i+j], "><"))
}
