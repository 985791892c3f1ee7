// Package ui is what operators read and change: the JSON API
// (/slogate/api/v1/slos), the maintenance API with its audit log, the web
// page at /slogate/, and the SLA report of a month, quarter or year (JSON,
// CSV, HTML). It hands its handlers to package proxy as routes (Routes)
// and knows no other path.
//
// It reads the engine through an interface, windows through store, and
// VictoriaMetrics through vmclient; it must not import proxy.
package ui

import (
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/slogate/slogate/config"
	"github.com/slogate/slogate/store"
	"github.com/slogate/slogate/synthetic"
	"github.com/slogate/slogate/vmclient"
)

// Config configures New. Zero fields take the defaults named.
type Config struct {
	// Engine provides the route and service statuses. Required.
	Engine synthetic.Evaluator
	// Step is the evaluation interval: statuses are evaluated at the
	// tenant watermark aligned down to it, as the synthetic series are.
	// Default 15s.
	Step time.Duration
	// Maintenance holds the windows; nil serves none and refuses changes.
	Maintenance *store.Maintenance
	// Tokens are the bearer tokens of the mutations, each with the name
	// the audit log records as the actor; none refuses every mutation.
	Tokens []Token
	// Client queries VictoriaMetrics for the SLA report. Required.
	Client *vmclient.Client
	// Config returns the configuration in force, for the report (each
	// route's objective, the services, the targets): called once per
	// report, so a configuration reloaded on SIGHUP applies to the next
	// one. Default: config.DefaultConfig().
	Config func() *config.Config
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// UI holds the handlers of slogate's own paths.
type UI struct {
	api    *API
	maint  *MaintenanceAPI
	report *Report
	page   *Page
}

// New builds the API, the maintenance API, the report and the page.
func New(cfg Config) (*UI, error) {
	if cfg.Engine == nil {
		return nil, errors.New("cannot create ui: no engine")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	u := &UI{api: &API{Engine: cfg.Engine, Step: cfg.Step}}
	if cfg.Maintenance != nil {
		u.maint = &MaintenanceAPI{Store: cfg.Maintenance, Tokens: cfg.Tokens, Now: cfg.Now}
	}
	var err error
	if u.report, err = NewReport(ReportConfig{Client: cfg.Client, Config: cfg.Config, Maintenance: cfg.Maintenance, Now: cfg.Now}); err != nil {
		return nil, err
	}
	if u.page, err = NewPage(PageConfig{API: u.api, Maintenance: u.maint, Now: cfg.Now}); err != nil {
		return nil, err
	}
	return u, nil
}

// Routes returns the handler of every path ui serves: a key ending in "/"
// is a prefix (its longest match wins), any other an exact path. Answers of
// the page, its files and the report are compressed when the client
// accepts it (the page of 1,000 routes is about 1.4 MB of HTML, 45 kB
// gzipped).
func (u *UI) Routes() map[string]fasthttp.RequestHandler {
	compress := func(h fasthttp.RequestHandler) fasthttp.RequestHandler {
		return fasthttp.CompressHandlerLevel(h, fasthttp.CompressDefaultCompression)
	}
	page := compress(u.page.Handle)
	routes := map[string]fasthttp.RequestHandler{
		"/slogate":               page,
		"/slogate/":              page,
		"/slogate/static/":       page,
		"/slogate/api/v1/slos":   u.api.ServeSLOs,
		"/slogate/api/v1/report": compress(u.report.Handle),
	}
	if u.maint != nil {
		routes[maintenancePath] = u.maint.Handle
		routes[maintenancePath+"/"] = u.maint.Handle
	}
	return routes
}
