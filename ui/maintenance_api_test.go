package ui

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/slogate/slogate/store"
)

// startMaintenanceAPI serves the maintenance API as slogate's server does
// (request bodies streamed) on an in-memory listener.
func startMaintenanceAPI(t *testing.T, maxWindows int) (*MaintenanceAPI, func() net.Conn) {
	t.Helper()
	now := func() time.Time { return pageNow }
	st, err := store.OpenMaintenance(store.MaintenanceConfig{Dir: t.TempDir(), RetroactiveLimit: time.Hour, Now: now, MaxWindows: maxWindows})
	if err != nil {
		t.Fatal(err)
	}
	api := &MaintenanceAPI{Store: st, Now: now, Tokens: []Token{{Name: "alice", Secret: "tok-a"}, {Name: "bob", Secret: "tok-b"}}}
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: api.Handle, StreamRequestBody: true, MaxRequestBodySize: 32 << 20}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { ln.Close() })
	return api, func() net.Conn {
		c, err := ln.Dial()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

// rawRequest sends a request as written and returns the status code and
// body of the answer.
func rawRequest(t *testing.T, dial func() net.Conn, method, token string, header string, body []byte) (int, string) {
	t.Helper()
	c := dial()
	defer c.Close()
	go func() {
		fmt.Fprintf(c, "%s /slogate/api/v1/maintenance HTTP/1.1\r\nHost: slogate\r\nAuthorization: Bearer %s\r\n%s\r\n", method, token, header)
		c.Write(body)
	}()
	var resp fasthttp.Response
	if err := resp.Read(bufio.NewReader(c)); err != nil {
		t.Fatalf("%s: cannot read the answer: %v", method, err)
	}
	return resp.StatusCode(), string(resp.Body())
}

func chunked(body []byte) []byte {
	var b bytes.Buffer
	for len(body) > 0 {
		n := min(len(body), 32<<10)
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, body[:n])
		body = body[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

func TestMaintenanceAPIBodiesAndTokens(t *testing.T) {
	api, dial := startMaintenanceAPI(t, 2)
	window := []byte(fmt.Sprintf(`{"start":%q,"duration":"1h","reason":"r","author":"ops"}`, pageNow.Format(time.RFC3339)))
	padded := append(append([]byte(nil), window[:len(window)-1]...), []byte(`,"reason":"`+strings.Repeat("x", 70<<10)+`"}`)...)
	f := func(name, token, header string, body []byte, wantCode int, wantText string) {
		t.Helper()
		code, msg := rawRequest(t, dial, "POST", token, header, body)
		if code != wantCode || !strings.Contains(msg, wantText) {
			t.Errorf("%s: %d %s, want %d containing %q", name, code, msg, wantCode, wantText)
		}
	}
	length := func(b []byte) string { return fmt.Sprintf("Content-Length: %d\r\n", len(b)) }
	const te = "Transfer-Encoding: chunked\r\n"
	f("over 64 KiB with a length", "tok-a", length(padded), padded, 413, "64 KiB")
	f("over 64 KiB chunked", "tok-a", te, chunked(padded), 413, "64 KiB")
	f("1 MiB chunked", "tok-a", te, chunked(bytes.Repeat([]byte(" "), 1<<20)), 413, "64 KiB")
	f("wrong token", "tok-c", length(window), window, 401, "bearer token")
	f("alice, chunked", "tok-a", te, chunked(window), 201, `"id": "mw-0"`)
	f("bob", "tok-b", length(window), window, 201, `"id": "mw-1"`)
	f("a third window over the limit of 2", "tok-a", length(window), window, 422, "too many maintenance windows")

	var actors []string
	for _, e := range api.Store.Audit() {
		actors = append(actors, e.Actor+"/"+e.Author)
	}
	if got := strings.Join(actors, " "); got != "alice/ops bob/ops" {
		t.Errorf("audit actors: %s, want alice/ops bob/ops", got)
	}
	out, _ := json.Marshal(api.Store.Audit()[0])
	if !strings.Contains(string(out), `"actor":"alice"`) {
		t.Errorf("audit entry JSON lacks the actor: %s", out)
	}
}
