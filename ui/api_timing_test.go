package ui

import (
	"fmt"
	"io"
	"regexp"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/slogate/slogate/budget"
)

// Benchmarks of what one call of the API and of the page costs at 20,000
// routes of a real engine. Run:
//
//	go test ./ui -run '^$' -bench 'ServeSLOs|ServePage' -benchmem -count 6 | tee new.txt
//	benchstat old.txt new.txt
//
// B/route is B/op over the routes: the garbage one call makes per route.

// benchRoutes is the route count of the benchmarks.
const benchRoutes = 20_000

// newBenchEngine returns an engine with routes ingress-nginx routes (a 200
// and a 503 counter each, four minutes of data), every one with an SLA and
// a contract label, and one service over all of them; and the time to
// evaluate at.
func newBenchEngine(routes int) (*budget.Engine, int64) {
	src := budget.Source{Name: "ingress-nginx", Kind: budget.Availability, Metric: "nginx_ingress_controller_requests",
		RouteLabels: []string{"namespace", "ingress", "host", "path"}, StatusLabel: "status",
		Bad: regexp.MustCompile(`^(?:5..)$`), MaxRoutes: 100_000}
	obj := budget.Objective{Name: "availability", SLO: 0.999, SLA: 0.99, Window: days30}
	e := budget.NewEngine(budget.EngineConfig{
		Sources:  []budget.Source{src},
		Services: []budget.Service{{Name: "shop", Objective: obj}},
		Resolve: func(_ *budget.Source, route []budget.Label) budget.Objective {
			o := obj
			o.Contract = []budget.Label{{Name: "customer", Value: route[1].Value}}
			return o
		},
	})
	ts := time.Now().Add(-time.Hour).UnixMilli()
	ts -= ts % 60_000
	for k := range int64(4) {
		for r := range routes {
			for _, code := range []string{"200", "503"} {
				labels := []budget.Label{
					{Name: "__name__", Value: "nginx_ingress_controller_requests"},
					{Name: "host", Value: fmt.Sprintf("shop-%d.example.com", r)},
					{Name: "ingress", Value: fmt.Sprintf("shop-%d", r)},
					{Name: "namespace", Value: "shop"},
					{Name: "path", Value: "/"},
					{Name: "status", Value: code},
				}
				e.Ingest(budget.Tenant{}, labels, []budget.Sample{{Value: float64(k * int64(10+r%7)), Timestamp: ts + k*60_000}})
			}
		}
	}
	return e, ts + 4*60_000
}

// benchServe calls h as a GET of uri b.N times, the body read to the end
// as a client reads it.
func benchServe(b *testing.B, h fasthttp.RequestHandler, uri string, routes int) {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.SetRequestURI(uri)
	h(&ctx) // warm the engine's and the handler's buffers
	n, err := ctx.Response.WriteTo(io.Discard)
	if err != nil || ctx.Response.StatusCode() != fasthttp.StatusOK {
		b.Fatalf("GET %s: %d %v", uri, ctx.Response.StatusCode(), err)
	}
	b.SetBytes(n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx.Response.Reset()
		h(&ctx)
		if _, err := ctx.Response.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(routes), "ns/route")
}

// BenchmarkServeSLOs: GET /slogate/api/v1/slos, every route and the
// service.
func BenchmarkServeSLOs(b *testing.B) {
	e, _ := newBenchEngine(benchRoutes)
	api := &API{Engine: e, Step: time.Minute}
	benchServe(b, api.ServeSLOs, "/slogate/api/v1/slos", benchRoutes)
}

// BenchmarkServePage: GET /slogate/, the server-rendered page of every
// route (uncompressed).
func BenchmarkServePage(b *testing.B) {
	e, _ := newBenchEngine(benchRoutes)
	p, err := NewPage(PageConfig{API: &API{Engine: e, Step: time.Minute}})
	if err != nil {
		b.Fatal(err)
	}
	benchServe(b, p.Handle, "/slogate/", benchRoutes)
}
