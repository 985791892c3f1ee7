package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
)

// The acme contract end to end (README "A contract end to end: acme"): three
// ingress-nginx routes of the customer acme, one contract, and one service
// `platform` summing them, with an SLA of 99.9% per calendar year in
// Europe/Berlin, budgeted in 5-minute time slices (a slice is good when at
// least 99% of its requests are), with credit tiers. A planned maintenance
// window covers an outage of api.acme.com and is declared before the data;
// an after-the-fact window covers half of an outage of admin.acme.com and
// is declared after it. 64 hours of event time go through slogate (the last
// minutes through a real vmagent) into a real VictoriaMetrics; the
// service's synthetic series, /slogate/api/v1/slos, the page and the SLA
// report for the month, the quarter and the year must equal a brute-force
// reference computed here from the generated counts (sharing no code with
// slogate: minutes, slices and downtime are counted afresh).
//
// The service's compliance window is the calendar year so far; every slice
// of it counts, a slice without events as good (emptySlices: good), also
// the slices before the service's first event: the live series
// (slo_sli_ratio{window="year"}, slo_sla_credit_percent, the credit the
// period is heading for) must agree with the year's report, which counts
// the period so. slo_slices_total counts since the service was discovered
// (README "Synthetic series"): from the slice of its first event on.

var acmeRoutes = []ingressRoute{
	{"acme", "shop", "shop.acme.com", "/"},
	{"acme", "api", "api.acme.com", "/"},
	{"acme", "admin", "admin.acme.com", "/"},
}

// acmeConfig returns the configuration of README "A contract end to end:
// acme" (its first yaml block), so that the README shows what is tested.
func acmeConfig(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## A contract end to end: acme\n")
	if ok {
		_, section, ok = strings.Cut(section, "```yaml\n")
	}
	yaml, _, found := strings.Cut(section, "```")
	if !ok || !found || !strings.Contains(yaml, "name: platform") {
		t.Fatal(`README.md has no yaml block with the service platform under "## A contract end to end: acme"`)
	}
	return yaml
}

const (
	acmeSLA         = 0.999
	acmeSliceMin    = 5
	acmeSliceTarget = 0.99
	acmeScrapes     = 10 * 60 // one scrape a minute
	acmeLive        = 6       // the last scrapes, sent after the after-the-fact window
	// acmeEval is slogate's -eval.interval. The report reads the minutes
	// back from the points of slo_requests_total, and slogate writes a
	// point per tick of this wall-clock interval at the newest event time:
	// the test sends a minute of event time and waits for its point before
	// the next, as real time would.
	acmeEval = 10 * time.Millisecond
)

// acmeCredit is the credit tier of a good-slice ratio.
func acmeCredit(ratio float64) float64 {
	switch {
	case ratio < 0.99:
		return 25
	case ratio < 0.999:
		return 10
	}
	return 0
}

// acmeScenario is the generated traffic and the two windows.
type acmeScenario struct {
	st    *stream
	start time.Time
	// Windows: route index and whole minutes [from, to) (Unix minutes).
	plannedRoute, retroRoute int
	planned, retro           [2]int64
	berlin                   *time.Location
}

func newAcmeScenario(t *testing.T) *acmeScenario {
	t.Helper()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	last := time.Now().UTC().Truncate(time.Minute).Add(-time.Minute)
	start := last.Add(-(acmeScrapes - 1) * time.Minute)
	plan := defaultPlan(acmeScrapes)
	plan.routes, plan.step = acmeRoutes, time.Minute
	plan.resetAt = acmeScrapes / 3
	plan.outages = []outage{
		{route: 0, from: 60, to: 75, status: "500"},   // shop: no window
		{route: 1, from: 200, to: 230, status: "503"}, // api: planned window over all of it
		{route: 2, from: 400, to: 420, status: "500"}, // admin: after-the-fact window over half
		{route: 0, from: 500, to: 507, status: "502"}, // shop again
		{route: 2, from: 560, to: 562, status: "500"}, // admin, a short blip
	}
	sc := &acmeScenario{st: generate(plan, start, 11), start: start, berlin: berlin, plannedRoute: 1, retroRoute: 2}
	m0 := start.Unix() / 60
	sc.planned = [2]int64{m0 + 197, m0 + 233}
	sc.retro = [2]int64{m0 + 390, m0 + 410}
	return sc
}

func (sc *acmeScenario) masked(route int, m int64) bool {
	switch route {
	case sc.plannedRoute:
		return m >= sc.planned[0] && m < sc.planned[1]
	case sc.retroRoute:
		return m >= sc.retro[0] && m < sc.retro[1]
	}
	return false
}

func minuteTime(m int64) time.Time { return time.Unix(m*60, 0).UTC() }

// postAcmeWindow declares a window over the routes of one acme ingress.
func postAcmeWindow(t *testing.T, base, ingress string, span [2]int64, reason string) {
	t.Helper()
	postWindow(t, base, minuteTime(span[0]), minuteTime(span[1]), ingress, reason, http.StatusCreated)
}

// serviceMinute is the service's good and total events of minute m, each
// route's maintenance removed, and whether every route excludes m.
func (sc *acmeScenario) serviceMinute(m int64) (good, total float64, excluded bool) {
	i := m - sc.st.firstMinute
	excluded = true
	for ri := range sc.st.routes {
		if sc.masked(ri, m) {
			continue
		}
		excluded = false
		if i < 0 || i >= int64(len(sc.st.tally[ri])) {
			continue
		}
		c := sc.st.tally[ri][i]
		good += c.good
		total += c.good + c.bad
	}
	return good, total, excluded
}

// sliceTally counts judged slices.
type sliceTally struct{ good, bad, excluded int64 }

// judge judges the slice [s, s+L) on its minutes in [from, to) that hold
// counts (minutes before countsEnd): all minutes excluded: left out; no
// events: good; else good iff good/total >= 0.99.
func (sc *acmeScenario) judge(c *sliceTally, from, to, countsEnd int64) {
	var good, total float64
	all := true
	for m := from; m < to; m++ {
		g, n, ex := sc.serviceMinute(m)
		if ex {
			continue
		}
		all = false
		if m < countsEnd {
			good += g
			total += n
		}
	}
	switch {
	case all && from < to:
		c.excluded++
	case total == 0 || math.Min(good, total)/total >= acmeSliceTarget:
		c.good++
	default:
		c.bad++
	}
}

// floorTo returns m rounded down to the slice grid (UTC minutes; Berlin's
// offsets are whole hours, so its local midnights lie on the grid too).
func floorTo(m int64) int64 { return floorDiv(m, acmeSliceMin) * acmeSliceMin }

// serviceTruth is the reference of the service's live values at minute mT.
type serviceTruth struct {
	good, bad    float64
	slices       sliceTally // from the first event's slice on, ending at or before mT
	window       sliceTally // the year so far, every slice of it, the slice in progress included
	remainingSec float64
	sli, credit  float64
	yearSlices   int64
	// sinceFirst are the year's slices from the first event's on (for
	// the log).
	sinceFirst sliceTally
}

func (sc *acmeScenario) engineReference(mT int64) serviceTruth {
	var w serviceTruth
	for m := sc.st.firstMinute; m < mT; m++ {
		g, n, _ := sc.serviceMinute(m)
		w.good += g
		w.bad += n - g
	}
	y, _, _ := minuteTime(mT).In(sc.berlin).Date()
	ys := time.Date(y, 1, 1, 0, 0, 0, 0, sc.berlin).Unix() / 60
	ye := time.Date(y+1, 1, 1, 0, 0, 0, 0, sc.berlin).Unix() / 60
	w.yearSlices = (ye - ys) / acmeSliceMin
	// slo_slices_total counts from the slice of the first event on.
	for s := floorTo(sc.st.firstMinute); s+acmeSliceMin <= mT; s += acmeSliceMin {
		sc.judge(&w.slices, s, s+acmeSliceMin, mT)
	}
	// The compliance window is the year so far, every slice of it, the
	// one in progress judged on its minutes before mT: a slice without
	// events is good (emptySlices: good), also before the first event, as
	// the report counts the period.
	for s := floorTo(ys); s < mT; s += acmeSliceMin {
		sc.judge(&w.window, max(s, ys), min(s+acmeSliceMin, mT), mT)
		if s >= floorTo(sc.st.firstMinute) {
			sc.judge(&w.sinceFirst, s, min(s+acmeSliceMin, mT), mT)
		}
	}
	allowed := (1 - acmeSLA) * float64(w.yearSlices-w.window.excluded)
	w.remainingSec = (allowed - float64(w.window.bad)) * acmeSliceMin * 60
	w.sli = float64(w.window.good) / float64(w.window.good+w.window.bad)
	w.credit = acmeCredit(w.sli)
	return w
}

// reportTruth is the reference of the service's figures in a report.
type reportTruth struct {
	start, end              string
	requests, bad, excluded uint64
	slices                  sliceTally
	total                   int64
	allowed, used           float64
	ratio, credit           float64
	met                     bool
	windows                 int
}

// reportReference computes the service's report over the Berlin period
// [ps, pe) up to minute hi (the report's `until`, rounded up to a minute),
// with the counts of the minutes before mT (the last synthetic point).
func (sc *acmeScenario) reportReference(ps, pe time.Time, hi, mT int64) reportTruth {
	lo, end := ps.Unix()/60, pe.Unix()/60
	r := reportTruth{start: ps.Format(time.RFC3339), end: pe.Format(time.RFC3339)}
	countsEnd := min(hi, end, mT)
	for m := max(lo, sc.st.firstMinute); m < countsEnd; m++ {
		i := m - sc.st.firstMinute
		for ri := range sc.st.routes {
			c := sc.st.tally[ri][i]
			r.requests += uint64(c.good + c.bad)
			if sc.masked(ri, m) {
				r.excluded += uint64(c.good + c.bad)
			} else {
				r.bad += uint64(c.bad)
			}
		}
	}
	first := floorTo(lo)
	for s := first; s < min(hi, end); s += acmeSliceMin {
		sc.judge(&r.slices, max(s, lo), min(s+acmeSliceMin, hi, end), countsEnd)
	}
	r.total = (end - first + acmeSliceMin - 1) / acmeSliceMin
	l := float64(acmeSliceMin * 60)
	r.allowed = math.Round((1-acmeSLA)*float64(r.total-r.slices.excluded)*l*1e3) / 1e3
	r.used = float64(r.slices.bad) * l
	r.met = r.used <= r.allowed*(1+1e-9)
	r.ratio = float64(r.slices.good) / float64(r.slices.good+r.slices.bad)
	r.credit = acmeCredit(r.ratio)
	for _, w := range [][2]int64{sc.planned, sc.retro} {
		if w[0] < min(hi, end) && w[1] > lo {
			r.windows++
		}
	}
	return r
}

// reportService is the part of a report's JSON the test checks.
type reportService struct {
	Service   string            `json:"service"`
	Labels    map[string]string `json:"labels"`
	Start     string            `json:"start"`
	End       string            `json:"end"`
	Until     string            `json:"until"`
	Complete  bool              `json:"complete"`
	Requests  uint64            `json:"requests"`
	Bad       uint64            `json:"bad"`
	Excluded  uint64            `json:"excluded"`
	Budgeting string            `json:"budgeting"`
	Slices    *struct {
		Good, Bad, Excluded, Total int64
	} `json:"slices"`
	GoodSliceRatio *float64                                  `json:"goodSliceRatio"`
	Target         float64                                   `json:"target"`
	TargetKind     string                                    `json:"targetKind"`
	Met            bool                                      `json:"met"`
	AllowedSeconds float64                                   `json:"allowedSeconds"`
	UsedSeconds    float64                                   `json:"usedSeconds"`
	CreditPercent  *float64                                  `json:"creditPercent"`
	Maintenance    []struct{ ID, Start, End, Reason string } `json:"maintenance"`
	Routes         []struct{ Route string }                  `json:"routes"`
}

// checkAcmeReports fetches the month, quarter and year reports of the
// period containing mT from base (tenant "" or "42") and compares the
// service with the reference.
func checkAcmeReports(t *testing.T, sc *acmeScenario, base, tenant string, mT int64) {
	t.Helper()
	local := minuteTime(mT - 1).In(sc.berlin)
	y, mo, _ := local.Date()
	q := (int(mo)-1)/3*3 + 1
	for _, p := range []struct {
		name   string
		ps, pe time.Time
	}{
		{fmt.Sprintf("%d-%02d", y, mo), time.Date(y, mo, 1, 0, 0, 0, 0, sc.berlin), time.Date(y, mo+1, 1, 0, 0, 0, 0, sc.berlin)},
		{fmt.Sprintf("%d-Q%d", y, (q+2)/3), time.Date(y, time.Month(q), 1, 0, 0, 0, 0, sc.berlin), time.Date(y, time.Month(q+3), 1, 0, 0, 0, 0, sc.berlin)},
		{fmt.Sprintf("%d", y), time.Date(y, 1, 1, 0, 0, 0, 0, sc.berlin), time.Date(y+1, 1, 1, 0, 0, 0, 0, sc.berlin)},
	} {
		v := url.Values{"period": {p.name}, "format": {"json"}}
		if tenant != "" {
			v.Set("tenant", tenant)
		}
		code, body, err := testenv.Get(base + "/slogate/api/v1/report?" + v.Encode())
		if err != nil || code != http.StatusOK {
			t.Errorf("report %s tenant %q: %d %v %s", p.name, tenant, code, err, body)
			continue
		}
		var rep struct {
			Period   string          `json:"period"`
			Tenant   string          `json:"tenant"`
			Services []reportService `json:"services"`
		}
		if err := json.Unmarshal(body, &rep); err != nil {
			t.Fatalf("report %s: %s: %s", p.name, err, body)
		}
		if len(rep.Services) != 1 {
			t.Errorf("report %s: %d services, want platform alone: %s", p.name, len(rep.Services), body)
			continue
		}
		got := rep.Services[0]
		until, err := time.Parse(time.RFC3339, got.Until)
		if err != nil {
			t.Fatalf("report %s: until %q: %s", p.name, got.Until, err)
		}
		// until is shown to the second; slogate rounds its instant up to
		// a minute. An instant on a whole minute's first second may
		// have had milliseconds: then either minute may be the one.
		his := []int64{(until.Unix() + 59) / 60}
		if until.Second() == 0 {
			his = append(his, until.Unix()/60+1)
		}
		var problems []string
		for _, hi := range his {
			want := sc.reportReference(p.ps, p.pe, hi, mT)
			problems = compareReport(got, want)
			if len(problems) == 0 {
				t.Logf("report %s tenant %q: requests %d, excluded %d, bad %d; slices good %d bad %d excluded %d of %d; allowed %.0fs used %.0fs; credit %.0f%%",
					p.name, rep.Tenant, want.requests, want.excluded, want.bad, want.slices.good, want.slices.bad, want.slices.excluded, want.total, want.allowed, want.used, want.credit)
				break
			}
		}
		for _, pr := range problems {
			t.Errorf("report %s tenant %q: service platform: %s", p.name, tenant, pr)
		}
	}
}

func compareReport(got reportService, w reportTruth) []string {
	var p []string
	f := func(name string, g, want any) {
		if fmt.Sprint(g) != fmt.Sprint(want) {
			p = append(p, fmt.Sprintf("%s = %v, reference %v", name, g, want))
		}
	}
	f("labels", fmt.Sprint(got.Labels), fmt.Sprint(map[string]string{"customer": "acme", "contract": "acme-gold"}))
	f("routes", len(got.Routes), 3)
	f("start", got.Start, w.start)
	f("end", got.End, w.end)
	f("requests", got.Requests, w.requests)
	f("excluded", got.Excluded, w.excluded)
	f("bad", got.Bad, w.bad)
	f("budgeting", got.Budgeting, "timeslices")
	f("targetKind", got.TargetKind, "sla")
	f("target", got.Target, acmeSLA)
	if got.Slices == nil {
		p = append(p, "no slices")
	} else {
		f("slices", *got.Slices, struct{ Good, Bad, Excluded, Total int64 }{w.slices.good, w.slices.bad, w.slices.excluded, w.total})
	}
	if got.GoodSliceRatio == nil || !approxEqual(*got.GoodSliceRatio, w.ratio) {
		p = append(p, fmt.Sprintf("goodSliceRatio = %v, reference %v", deref(got.GoodSliceRatio), w.ratio))
	}
	if !approxEqual(got.AllowedSeconds, w.allowed) || !approxEqual(got.UsedSeconds, w.used) {
		p = append(p, fmt.Sprintf("allowed/used = %v/%v s, reference %v/%v", got.AllowedSeconds, got.UsedSeconds, w.allowed, w.used))
	}
	f("met", got.Met, w.met)
	if got.CreditPercent == nil || *got.CreditPercent != w.credit {
		p = append(p, fmt.Sprintf("creditPercent = %v, reference %v", deref(got.CreditPercent), w.credit))
	}
	f("maintenance windows", len(got.Maintenance), w.windows)
	return p
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// acmeSender sends the scenario's minutes to slogate one at a time, each
// once its predecessor's synthetic point is written.
type acmeSender struct {
	t       *testing.T
	sg      string // slogate's base URL
	written float64
}

// send posts body to writeURL (slogate, or vmagent in front of it) and
// waits until slogate has written the point of the new event time.
func (a *acmeSender) send(writeURL string, body []byte) {
	a.t.Helper()
	postBlock(a.t, writeURL, body, nil)
	a.wait()
}

func (a *acmeSender) wait() {
	a.t.Helper()
	// Polled more often than testenv.Eventually does: 600 minutes wait
	// for a point each.
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := testenv.ScrapeMetrics(a.t, a.sg+"/metrics")
		w, _ := testenv.SumMetric(m, "slogate_synthetic_blocks_written_total", nil)
		p, _ := testenv.SumMetric(m, "slogate_synthetic_blocks_pending", nil)
		if w > a.written && p == 0 {
			a.written = w
			return
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("no synthetic point written within 30s: blocks written %v (before the minute: %v), pending %v", w, a.written, p)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sendAcmeHistory declares the planned window, sends all but the last
// acmeLive minutes to writeURL in time order (every 97th block twice, a
// retry after a lost answer), then declares the after-the-fact window.
func sendAcmeHistory(t *testing.T, sc *acmeScenario, a *acmeSender, writeURL string) {
	t.Helper()
	postAcmeWindow(t, a.sg, acmeRoutes[sc.plannedRoute].ingress, sc.planned, "planned database upgrade")
	for i := range len(sc.st.blocks) - acmeLive {
		a.send(writeURL, sc.st.blocks[i])
		if i%97 == 96 {
			postBlock(t, writeURL, sc.st.blocks[i], nil)
		}
	}
	postAcmeWindow(t, a.sg, acmeRoutes[sc.retroRoute].ingress, sc.retro, "admin outage, declared after the fact")
}

// apiService is a service of /slogate/api/v1/slos, the fields checked.
type apiService struct {
	Tenant      string                      `json:"tenant"`
	Service     string                      `json:"service"`
	Labels      map[string]string           `json:"labels"`
	Routes      int                         `json:"routes"`
	EvaluatedAt string                      `json:"evaluatedAt"`
	Requests    struct{ Good, Bad float64 } `json:"requests"`
	Budgets     struct {
		SLA struct {
			RemainingSeconds       float64 `json:"remainingSeconds"`
			AllowedDowntimeSeconds float64 `json:"allowedDowntimeSeconds"`
			UsedDowntimeSeconds    float64 `json:"usedDowntimeSeconds"`
		} `json:"sla"`
	} `json:"budgets"`
	Slices        struct{ Good, Bad, Excluded int64 } `json:"slices"`
	WindowSlices  struct{ Good, Bad, Excluded int64 } `json:"windowSlices"`
	CreditPercent *float64                            `json:"creditPercent"`
}

func getServices(t *testing.T, base string) []apiService {
	t.Helper()
	var out struct {
		Services []apiService `json:"services"`
	}
	if err := json.Unmarshal(testenv.MustGet(t, base+"/slogate/api/v1/slos"), &out); err != nil {
		t.Fatal(err)
	}
	return out.Services
}

// waitEvaluated waits until the service of tenant has been evaluated at ts.
func waitEvaluated(t *testing.T, base, tenant string, ts time.Time) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() error {
		for _, s := range getServices(t, base) {
			if s.Tenant == tenant && s.Service == "platform" && s.EvaluatedAt == ts.UTC().Format(time.RFC3339) {
				return nil
			}
		}
		return fmt.Errorf("service platform of tenant %s not evaluated at %s yet", tenant, ts.UTC())
	})
}

// TestContractAcme is the acme contract through vmagent, slogate and a
// single-node VictoriaMetrics.
func TestContractAcme(t *testing.T) {
	t.Parallel()
	sc := newAcmeScenario(t)
	vm := testenv.StartVM(t)
	sg := testenv.StartSlogate(t, "-upstream.url="+vm.URL(), "-eval.interval="+acmeEval.String(),
		"-config="+testenv.WriteTemp(t, "slogate.yml", acmeConfig(t)),
		"-api.tokenFile="+testenv.WriteTemp(t, "token", apiToken+"\n"))
	agent := testenv.StartVMAgent(t, "", "-remoteWrite.url="+sg.URL+"/api/v1/write", "-remoteWrite.queues=1",
		"-remoteWrite.flushInterval=100ms")

	a := &acmeSender{t: t, sg: sg.URL}
	sendAcmeHistory(t, sc, a, sg.URL+"/api/v1/write")
	// The last minutes come live through vmagent, one scrape at a time:
	// each is forwarded before the next is sent.
	n := len(sc.st.blocks)
	for i := n - acmeLive; i < n; i++ {
		a.send(agent.URL+"/api/v1/write", sc.st.blocks[i])
	}
	last := sc.start.Add(time.Duration(n-1) * time.Minute)
	waitEvaluated(t, sg.URL, "0:0", last)
	mT := last.Unix() / 60
	want := sc.engineReference(mT)
	if want.window.bad == 0 {
		t.Fatalf("the reference has no bad slices or no credit (%+v); the test proves nothing", want)
	}

	// The service's series in VictoriaMetrics.
	var got map[string]float64
	testenv.Eventually(t, 60*time.Second, func() error {
		vm.ForceFlush(t)
		got = map[string]float64{}
		for _, s := range vm.Export(t, `{__name__=~"slo_.*",service="platform"}`) {
			if s.Metric["customer"] != "acme" || s.Metric["contract"] != "acme-gold" || s.Metric["slo"] != "platform" || s.Metric["route"] != "" {
				return fmt.Errorf("service series with unexpected labels: %v", s.Metric)
			}
			for i, ts := range s.Timestamps {
				if ts == last.UnixMilli() {
					name := s.Metric["__name__"]
					for _, l := range []string{"result", "window", "kind"} {
						if v, ok := s.Metric[l]; ok {
							name += "{" + l + "=" + v + "}"
						}
					}
					got[name] = s.Values[i]
				}
			}
		}
		if _, ok := got["slo_sla_credit_percent"]; !ok {
			return fmt.Errorf("no service point at %s yet", last)
		}
		return nil
	})
	for name, w := range map[string]float64{
		"slo_requests_total{result=good}":              want.good,
		"slo_requests_total{result=bad}":               want.bad,
		"slo_slices_total{result=good}":                float64(want.slices.good),
		"slo_slices_total{result=bad}":                 float64(want.slices.bad),
		"slo_slices_total{result=excluded}":            float64(want.slices.excluded),
		"slo_objective_ratio{kind=sla}":                acmeSLA,
		"slo_sli_ratio{window=year}":                   want.sli,
		"slo_error_budget_remaining_seconds{kind=sla}": want.remainingSec,
		"slo_sla_credit_percent":                       want.credit,
	} {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("series %s{service=platform} missing at %s", name, last)
		case !approxEqual(g, w):
			t.Errorf("series %s{service=platform} = %.12g, reference %.12g", name, g, w)
		}
	}
	t.Logf("service platform at %s: good %.0f bad %.0f; slices since the first event %+v; year so far %+v (of %d; from the first event's slice on: %+v); SLA downtime left %.0fs; credit %.0f%%",
		last, want.good, want.bad, want.slices, want.window, want.yearSlices, want.sinceFirst, want.remainingSec, want.credit)

	// The API lists the service with the same figures.
	var svc *apiService
	for _, s := range getServices(t, sg.URL) {
		if s.Service == "platform" {
			svc = &s
		}
	}
	if svc == nil {
		t.Fatal("/slogate/api/v1/slos lists no service platform")
	}
	if svc.Routes != 3 || svc.Labels["customer"] != "acme" || svc.Labels["contract"] != "acme-gold" ||
		svc.Requests.Good != want.good || svc.Requests.Bad != want.bad ||
		svc.Slices.Good != want.slices.good || svc.Slices.Bad != want.slices.bad || svc.Slices.Excluded != want.slices.excluded ||
		svc.WindowSlices.Good != want.window.good || svc.WindowSlices.Bad != want.window.bad || svc.WindowSlices.Excluded != want.window.excluded ||
		!approxEqual(svc.Budgets.SLA.RemainingSeconds, want.remainingSec) ||
		!approxEqual(svc.Budgets.SLA.UsedDowntimeSeconds, float64(want.window.bad*acmeSliceMin*60)) ||
		svc.CreditPercent == nil || *svc.CreditPercent != want.credit {
		t.Errorf("API service platform: %+v (credit %v), reference %+v", *svc, deref(svc.CreditPercent), want)
	}

	// The page shows the service above the routes.
	page := string(testenv.MustGet(t, sg.URL+"/slogate/"))
	i := strings.Index(page, `id="services-body"`)
	j := strings.Index(page, `id="routes"`)
	if i < 0 || j < i {
		t.Fatalf("the page has no services table above the routes")
	}
	for _, s := range []string{"platform", "customer=acme contract=acme-gold", "3 routes", "year", "5m slices"} {
		if !strings.Contains(page[i:j], s) {
			t.Errorf("the page's service row lacks %q", s)
		}
	}

	checkAcmeReports(t, sc, sg.URL, "", mT)
}

// TestContractAcmeCluster is the same contract written for tenant 42 into
// a real VictoriaMetrics cluster (slogate in front of vminsert), and the
// report read back through vmselect with tenant=42.
func TestContractAcmeCluster(t *testing.T) {
	t.Parallel()
	sc := newAcmeScenario(t)
	cl := testenv.StartCluster(t)
	sg := testenv.StartSlogate(t, "-upstream.url="+cl.InsertURL(), "-upstream.readURL="+cl.SelectURL(), "-upstream.cluster",
		"-eval.interval="+acmeEval.String(),
		"-config="+testenv.WriteTemp(t, "slogate.yml", acmeConfig(t)),
		"-api.tokenFile="+testenv.WriteTemp(t, "token", apiToken+"\n"))
	write := sg.URL + "/insert/42/prometheus/api/v1/write"
	a := &acmeSender{t: t, sg: sg.URL}
	sendAcmeHistory(t, sc, a, write)
	n := len(sc.st.blocks)
	for i := n - acmeLive; i < n; i++ {
		a.send(write, sc.st.blocks[i])
	}
	last := sc.start.Add(time.Duration(n-1) * time.Minute)
	waitEvaluated(t, sg.URL, "42:0", last)
	mT := last.Unix() / 60
	// Wait until the last point is readable through vmselect.
	testenv.Eventually(t, 60*time.Second, func() error {
		cl.ForceFlush(t)
		points := 0
		for _, s := range cl.Export(t, "42", `slo_requests_total{route!=""}`) {
			for _, ts := range s.Timestamps {
				if ts == last.UnixMilli() {
					points++
				}
			}
		}
		if points < 2*len(acmeRoutes) {
			return fmt.Errorf("%d route points at %s in tenant 42, want %d", points, last, 2*len(acmeRoutes))
		}
		return nil
	})
	checkAcmeReports(t, sc, sg.URL, "42", mT)
}
