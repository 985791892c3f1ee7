package testenv

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// DumpDOM renders url in headless Chromium (the binary at chromium) and
// returns the DOM after five seconds of virtual time (the page script's
// first refresh). extraArgs go to Chromium before the URL.
func DumpDOM(t testing.TB, chromium, url string, extraArgs ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=5000", "--dump-dom"}
	args = append(args, extraArgs...)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, chromium, append(args, url)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || len(out) == 0 {
		t.Fatalf("cannot render %s in Chromium: %v\n%s", url, err, stderr.String())
	}
	return string(out)
}

var betweenTags = regexp.MustCompile(`>\s+<`)

// Element returns the element of dom opened by prefix up to its closing
// tag (the first one; no nesting of the same tag), whitespace between tags
// removed; "" when there is none.
func Element(dom, prefix string) string {
	i := strings.Index(dom, prefix)
	if i < 0 {
		return ""
	}
	tag := strings.TrimPrefix(strings.Fields(prefix)[0], "<")
	j := strings.Index(dom[i:], "</"+tag+">")
	if j < 0 {
		return ""
	}
	return strings.TrimSpace(betweenTags.ReplaceAllString(dom[i:i+j], "><"))
}
