package ui

import (
	"bufio"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"math"
	"mime"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// The page's files. page.html is an html/template; page.js re-renders the
// same markup from the JSON API, so a change to one is a change to both.
//
//go:embed assets
var assetFiles embed.FS

// PageConfig configures NewPage.
type PageConfig struct {
	// API provides the route and service statuses. Required.
	API *API
	// Maintenance provides the windows and the form's target; nil shows
	// none.
	Maintenance *MaintenanceAPI
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Page serves slogate's web page at /slogate/ and /slogate and its static
// files under /slogate/static/.
type Page struct {
	cfg    PageConfig
	tmpl   *template.Template
	assets map[string]asset
}

// asset is one static file; hash versions its URL.
type asset struct {
	body  []byte
	ctype string
	hash  string
}

// NewPage parses the embedded template and indexes the static files.
func NewPage(cfg PageConfig) (*Page, error) {
	if cfg.API == nil {
		return nil, fmt.Errorf("cannot create page: no API")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Page{cfg: cfg, assets: map[string]asset{}}
	for _, name := range []string{"page.js", "page.css"} {
		body, err := assetFiles.ReadFile("assets/" + name)
		if err != nil {
			return nil, fmt.Errorf("cannot read embedded %s: %w", name, err)
		}
		sum := sha256.Sum256(body)
		p.assets[name] = asset{body: body, ctype: mime.TypeByExtension(path.Ext(name)), hash: hex.EncodeToString(sum[:8])}
	}
	funcs := template.FuncMap{"asset": p.assetURL}
	tmpl, err := template.New("page.html").Funcs(funcs).ParseFS(assetFiles, "assets/page.html")
	if err != nil {
		return nil, fmt.Errorf("cannot parse page template: %w", err)
	}
	p.tmpl = tmpl
	return p, nil
}

// assetURL is a static file's URL, versioned by its content, so that it
// can be cached for good and a new build is fetched at once.
func (p *Page) assetURL(name string) string {
	return "/slogate/static/" + name + "?v=" + p.assets[name].hash
}

// Handle serves the page and the static files; anything else is 404.
func (p *Page) Handle(ctx *fasthttp.RequestCtx) {
	switch pth := string(ctx.Path()); {
	case pth == "/slogate/" || pth == "/slogate":
		if !ctx.IsGet() && !ctx.IsHead() {
			methodNotAllowed(ctx, "GET")
			return
		}
		p.servePage(ctx)
	case strings.HasPrefix(pth, "/slogate/static/"):
		p.serveAsset(ctx, strings.TrimPrefix(pth, "/slogate/static/"))
	default:
		ctx.Error("not found\n", fasthttp.StatusNotFound)
	}
}

// serveAsset answers a static file. A request for the current version
// (?v=<hash>, as the page links it) may be cached for a year; any other
// is revalidated by ETag.
func (p *Page) serveAsset(ctx *fasthttp.RequestCtx, name string) {
	a, ok := p.assets[name]
	if !ok {
		ctx.Error("not found\n", fasthttp.StatusNotFound)
		return
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		methodNotAllowed(ctx, "GET")
		return
	}
	etag := `"` + a.hash + `"`
	h := &ctx.Response.Header
	h.Set("ETag", etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if string(ctx.QueryArgs().Peek("v")) == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if string(ctx.Request.Header.Peek("If-None-Match")) == etag {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	ctx.SetContentType(a.ctype)
	ctx.SetBody(a.body)
}

// pageCSP allows the page's own script, style and API calls only: no
// inline script, nothing from elsewhere (the page works offline).
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

func (p *Page) servePage(ctx *fasthttp.RequestCtx) {
	q := ctx.QueryArgs()
	v := p.view(string(q.Peek("q")), string(q.Peek("sort")))
	v.Host = string(ctx.Host())
	h := &ctx.Response.Header
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	ctx.SetContentType("text/html; charset=utf-8")
	if ctx.IsHead() {
		return
	}
	// The page is streamed as the template renders it, not gathered
	// first: at 20,000 routes it is about 30 MB of HTML, which a buffer
	// would hold twice over while growing, and once more in the
	// response. The view is complete before, so the template fails only
	// when the client goes away (or on a bug of the template, which the
	// tests render): nothing is left to tell the client then.
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		if err := p.tmpl.Execute(w, v); err == nil {
			_ = w.Flush()
		}
	})
}

// rowID is a stable HTML id for a route row: FNV-1a (32 bit) over the
// UTF-8 key, as page.js computes it.
func rowID(key string) string {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return fmt.Sprintf("r-%08x", h)
}

// fmtSeconds formats seconds as "1h 2m 3s", "14m 20s" or "5s", rounded to
// whole seconds (no days: the SLA report states downtime to the second).
func fmtSeconds(s float64) string {
	n := int64(math.Round(math.Abs(s)))
	h, m, sec := n/3600, n/60%60, n%60
	var out string
	switch {
	case h > 0:
		out = fmt.Sprintf("%dh %dm %ds", h, m, sec)
	case m > 0:
		out = fmt.Sprintf("%dm %ds", m, sec)
	default:
		out = fmt.Sprintf("%ds", sec)
	}
	if s < 0 && n > 0 {
		out = "-" + out
	}
	return out
}

// fmtDuration formats seconds for the page in its two largest units,
// rounded to the smaller one: "6d 2h", "2h 5m", "14m", and seconds only
// below a minute ("45s"). A zero second unit is left out ("6d", "1h").
func fmtDuration(s float64) string {
	n := math.Round(math.Abs(s))
	var out string
	switch mins := math.Round(n / 60); {
	case n < 60:
		out = strconv.FormatFloat(n, 'f', 0, 64) + "s"
	case mins < 60:
		out = strconv.FormatFloat(mins, 'f', 0, 64) + "m"
	case mins < 24*60:
		out = twoUnits(int64(mins)/60, "h", int64(mins)%60, "m")
	default:
		hours := int64(math.Round(n / 3600))
		out = twoUnits(hours/24, "d", hours%24, "h")
	}
	if s < 0 && n > 0 {
		out = "-" + out
	}
	return out
}

func twoUnits(a int64, ua string, b int64, ub string) string {
	if b == 0 {
		return strconv.FormatInt(a, 10) + ua
	}
	return strconv.FormatInt(a, 10) + ua + " " + strconv.FormatInt(b, 10) + ub
}

// fmtTarget shows a target ratio as a percent with the digits it has:
// 0.9995 is "99.95%".
func fmtTarget(v float64) string {
	return strconv.FormatFloat(math.Round(v*100*1e6)/1e6, 'f', -1, 64) + "%"
}

// targetDecimals is the number of decimals of a target in percent, at
// least 2: availability is shown with as many, so that it can be compared
// with the target digit by digit.
func targetDecimals(v float64) int {
	s := strconv.FormatFloat(math.Round(v*100*1e6)/1e6, 'f', -1, 64)
	if _, frac, ok := strings.Cut(s, "."); ok {
		return max(2, len(frac))
	}
	return 2
}

// fmtAvailability shows an SLI as a percent, truncated (never rounded
// up: 99.9496% must not read as a met 99.95%).
func fmtAvailability(v float64, decimals int) string {
	if v >= 1 {
		return "100%"
	}
	scale := math.Pow10(decimals)
	return strconv.FormatFloat(math.Floor(v*100*scale+1e-7)/scale, 'f', decimals, 64) + "%"
}

// fmtBurn shows a burn rate with two significant decimals below 10.
func fmtBurn(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// burnClass marks burn rates at or above the default freeze threshold
// (14.4, the 1h rate that spends 2% of a 30d budget) and above 1.
func burnClass(v float64) string {
	switch {
	case v >= 14.4:
		return "hot"
	case v > 1:
		return "warm"
	}
	return ""
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func fmtRFC3339(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return fmtTime(t)
}
