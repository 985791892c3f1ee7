// Command history gives the demo (make demo) a past: before the live
// traffic starts it writes a month of the router's counters into
// VictoriaMetrics, as vmagent would have scraped them from Caddy, so that
// slogate started with -backfill begins where a real month would be. Then
// it declares an outage of that month as maintenance after the fact.
//
//	history write   -vm=URL -instance=ADDR -sites=HOST,HOST,HOST -story=FILE
//	history declare -slogate=URL -tokenFile=FILE -story=FILE
//
// write sends caddy_http_request_duration_seconds_count and _bucket
// {server="edge", host, handler="subroute", code, method="GET"} with
// job="caddy" and instance=ADDR (the series vmagent scrapes live), one
// sample a minute over the last 31 days and an hour, through
// VictoriaMetrics' /api/v1/import. The sites follow a day's curve in
// Europe/Berlin (quiet at night, peak at 14:00, quieter at weekends) with
// a small error rate, and the month has a story, told by the sites' order
// as in the traffic generator:
//
//   - the first site (the shop) had a bad release 9 days ago, 13:00-16:00:
//     enough of its requests failed to leave 4% of its SLA budget (SLA
//     0.995 over 30 days), so that a live incident shows "SLA budget gone
//     in N minutes" on slogate's page;
//   - the second site (the API) was down yesterday 10:00-10:45 (503): an
//     emergency database failover the customer had agreed to;
//   - the last site (the portal) had 20 minutes of 30% errors 6 days ago.
//
// write stores the API's outage in -story; declare, run once slogate has
// replayed the month, declares it through slogate's API as a maintenance
// window (bearer token) and prints the API's budgets before and after.
// Every address must be a loopback address. It talks HTTP only and imports
// no slogate package.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // Europe/Berlin without the system's zone files
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], time.Now(), os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "history: %s\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, now time.Time, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("want a command: write or declare")
	}
	fs := flag.NewFlagSet("history "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	story := fs.String("story", "", "file holding the outage to declare after the fact (written by write, read by declare); required")
	client := &http.Client{Timeout: 5 * time.Minute}
	switch args[0] {
	case "write":
		vm := fs.String("vm", "http://127.0.0.1:18428", "VictoriaMetrics to import the history into")
		instance := fs.String("instance", "127.0.0.1:18419", "instance label of the series: Caddy's metrics address that vmagent scrapes")
		sites := fs.String("sites", "shop.acme.localhost,api.acme.localhost,portal.globex.localhost", "the router's hosts, in the traffic generator's order")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		u, err := loopbackURL("-vm", *vm)
		if err != nil {
			return err
		}
		hosts := strings.Split(*sites, ",")
		if len(hosts) != 3 || *story == "" || *instance == "" {
			return fmt.Errorf("want -sites with 3 hosts, -instance and -story")
		}
		h := newHistory(now, hosts, *instance)
		if err := h.importInto(ctx, client, u); err != nil {
			return err
		}
		h.tell(stdout)
		return writeStory(*story, h.afterTheFact)
	case "declare":
		slogate := fs.String("slogate", "http://127.0.0.1:18490", "slogate, for the maintenance window")
		tokenFile := fs.String("tokenFile", "", "file holding slogate's API bearer token (-api.tokenFile); required")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		u, err := loopbackURL("-slogate", *slogate)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("cannot read -tokenFile: %w", err)
		}
		w, err := readStory(*story)
		if err != nil {
			return err
		}
		return declare(ctx, client, u, strings.TrimSpace(string(b)), w, stdout)
	}
	return fmt.Errorf("unknown command %q: want write or declare", args[0])
}

// loopbackURL parses an http URL and refuses any host that is not a
// loopback address: the demo talks to this machine only.
func loopbackURL(flagName, s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("cannot use %s %q: want http://127.0.0.1:<port>", flagName, s)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return nil, fmt.Errorf("cannot use %s %q: the demo only talks to loopback addresses", flagName, s)
	}
	return u, nil
}

const (
	// peak and weights are the traffic generator's: requests per second of
	// the busiest site at the day's peak, and each site's share of it.
	peak = 40.0
	// days of history: the longest compliance window of the demo's
	// configuration (a calendar month, at most 31 days) and slogate's
	// backfill margin.
	days = 31
	// shopSLA and shopLeft: the shop's SLA objective over its 30-day window
	// and the share of that budget the month leaves it.
	shopSLA  = 0.995
	shopLeft = 0.045
	// les are the bucket boundaries written; 0.25 is the demo's latency
	// objective (caddy-latency, le: 0.25).
	metric = "caddy_http_request_duration_seconds"
)

var (
	weights = [3]float64{1, 0.6, 0.3}
	// errRate and slowRate: each site's usual share of 5xx answers and of
	// answers slower than 250ms.
	errRate  = [3]float64{0.0004, 0.0002, 0.0008}
	slowRate = [3]float64{0.002, 0.004, 0.003}
	les      = []string{"0.1", "0.25", "1", "+Inf"}
)

// window is a maintenance window as slogate's API takes it.
type window struct {
	Start  time.Time         `json:"start"`
	End    time.Time         `json:"end"`
	Match  map[string]string `json:"match"`
	Reason string            `json:"reason"`
	Author string            `json:"author"`
}

// minute is one site's answers in one minute.
type minute struct {
	ok, slow, slowUnder1s int64 // 200s: slower than 250ms, of those within 1s
	err500, err503        int64
}

// history is the month of the three sites, minute by minute.
type history struct {
	hosts    []string
	instance string
	start    time.Time // the first minute
	minutes  [3][]minute
	// incidents as told, per site.
	told         [3]string
	afterTheFact window
}

func newHistory(now time.Time, hosts []string, instance string) *history {
	loc := berlin()
	end := now.Truncate(time.Minute)
	h := &history{hosts: hosts, instance: instance, start: end.Add(-days*24*time.Hour - time.Hour)}
	n := int(end.Sub(h.start) / time.Minute)
	rng := rand.New(rand.NewPCG(13, 2026))
	for s := range h.minutes {
		h.minutes[s] = make([]minute, n)
		for i := range n {
			t := h.start.Add(time.Duration(i) * time.Minute).In(loc)
			total := poisson(rng, rate(t, weights[s])*60)
			bad := min(total, poisson(rng, float64(total)*errRate[s]))
			ok := total - bad
			slow := min(ok, poisson(rng, float64(ok)*slowRate[s]))
			h.minutes[s][i] = minute{ok: ok, slow: slow, slowUnder1s: slow * 9 / 10, err500: bad}
		}
	}
	// at returns the minute index of a local clock time days ago.
	at := func(daysAgo, hour, min int) int {
		d := now.In(loc).AddDate(0, 0, -daysAgo)
		t := time.Date(d.Year(), d.Month(), d.Day(), hour, min, 0, 0, loc)
		return int(t.Sub(h.start) / time.Minute)
	}
	clock := func(i int, layout string) string {
		return h.start.Add(time.Duration(i) * time.Minute).In(loc).Format(layout)
	}
	span := func(from, to int) string { return clock(from, "Jan 2 15:04") + "-" + clock(to, "15:04") }

	// The shop: a bad release 9 days ago, 13:00-16:00, fails the share of
	// requests that leaves shopLeft of its SLA budget over the last 30 days.
	from, to := at(9, 13, 0), at(9, 16, 0)
	// slogate's 30-day window starts at a whole hour once it is older than
	// its minute-exact range.
	last30 := n - 30*24*60
	for h.start.Add(time.Duration(last30)*time.Minute).Minute() != 0 {
		last30++
	}
	var total, bad, inIncident int64
	for i, m := range h.minutes[0][last30:] {
		total += m.ok + m.err500
		bad += m.err500
		if i+last30 >= from && i+last30 < to {
			inIncident += m.ok
		}
	}
	extra := int64((1-shopLeft)*(1-shopSLA)*float64(total)) - bad
	share := min(0.95, float64(extra)/float64(inIncident))
	for i := from; i < to; i++ {
		m := &h.minutes[0][i]
		failed := int64(math.Round(float64(m.ok) * share))
		m.ok -= failed
		m.slow = min(m.slow, m.ok)
		m.slowUnder1s = m.slow * 9 / 10
		m.err500 += failed
	}
	h.told[0] = fmt.Sprintf("a bad release %s failed %.0f%% of its requests, leaving about %.0f%% of its SLA budget (99.5%% over 30 days)",
		span(from, to), share*100, math.Floor(shopLeft*100))

	// The API: down yesterday 10:00-10:45, which the customer had agreed to.
	from, to = at(1, 10, 0), at(1, 10, 45)
	for i := from; i < to; i++ {
		m := &h.minutes[1][i]
		m.err503 = m.ok + m.err500
		m.ok, m.slow, m.slowUnder1s, m.err500 = 0, 0, 0, 0
	}
	h.afterTheFact = window{
		Start:  h.start.Add(time.Duration(from) * time.Minute).UTC(),
		End:    h.start.Add(time.Duration(to) * time.Minute).UTC(),
		Match:  map[string]string{"host": regexp.QuoteMeta(hosts[1])},
		Reason: "emergency database failover, agreed with the customer (declared after the fact)",
		Author: "demo history",
	}
	h.told[1] = fmt.Sprintf("down (503) %s: an emergency database failover the customer had agreed to, not yet declared", span(from, to))

	// The portal: 20 minutes of 30% errors 6 days ago.
	from, to = at(6, 20, 0), at(6, 20, 20)
	for i := from; i < to; i++ {
		m := &h.minutes[2][i]
		failed := (m.ok * 3) / 10
		m.ok -= failed
		m.slow = min(m.slow, m.ok)
		m.slowUnder1s = m.slow * 9 / 10
		m.err500 += failed
	}
	h.told[2] = fmt.Sprintf("30%% errors %s", span(from, to))
	return h
}

// berlin is the time zone of the sites' days.
func berlin() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return time.UTC
	}
	return loc
}

// rate returns a site's requests per second at local time t: from 10% of
// its peak at 02:00 to the peak at 14:00, 30% less at weekends.
func rate(t time.Time, weight float64) float64 {
	clock := (float64(t.Hour()) + float64(t.Minute())/60) / 24
	shape := (1 + math.Cos(2*math.Pi*(clock-14.0/24))) / 2
	r := peak * weight * (0.1 + 0.9*shape)
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		r *= 0.7
	}
	return r
}

// poisson draws a Poisson variate of mean lambda (a normal approximation
// above 30).
func poisson(rng *rand.Rand, lambda float64) int64 {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		return max(0, int64(math.Round(lambda+math.Sqrt(lambda)*rng.NormFloat64())))
	}
	l, k, p := math.Exp(-lambda), int64(0), 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// series is one counter of the import: its labels and a value per minute.
type series struct {
	labels map[string]string
	value  func(m minute) int64
}

// seriesOf lists the counters of site s: _count and _bucket per code.
func (h *history) seriesOf(s int) []series {
	base := func(name, code string) map[string]string {
		return map[string]string{"__name__": name, "job": "caddy", "instance": h.instance,
			"server": "edge", "host": h.hosts[s], "handler": "subroute", "method": "GET", "code": code}
	}
	var out []series
	codes := []struct {
		code  string
		count func(m minute) int64
	}{
		{"200", func(m minute) int64 { return m.ok }},
		{"500", func(m minute) int64 { return m.err500 }},
		{"503", func(m minute) int64 { return m.err503 }},
	}
	for _, c := range codes {
		if c.code == "503" && s != 1 {
			continue // only the API's outage answered 503
		}
		out = append(out, series{base(metric+"_count", c.code), c.count})
		for _, le := range les {
			l := base(metric+"_bucket", c.code)
			l["le"] = le
			count := c.count
			if c.code == "200" {
				switch le {
				case "0.1", "0.25":
					share := map[string]float64{"0.1": 0.85, "0.25": 1}[le]
					count = func(m minute) int64 { return int64(float64(m.ok-m.slow) * share) }
				case "1":
					count = func(m minute) int64 { return m.ok - m.slow + m.slowUnder1s }
				}
			}
			out = append(out, series{l, count})
		}
	}
	return out
}

// importInto sends every series to VictoriaMetrics' /api/v1/import as
// JSON lines, cumulative from 0 at the first minute, then asks it to make
// them searchable.
func (h *history) importInto(ctx context.Context, client *http.Client, vm *url.URL) error {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<20)
		var err error
		for s := range h.minutes {
			for _, ser := range h.seriesOf(s) {
				if err = h.writeLine(bw, ser, h.minutes[s]); err != nil {
					break
				}
			}
		}
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, vm.JoinPath("/api/v1/import").String(), pr)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("cannot import the history into VictoriaMetrics: %w", err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("cannot import the history into VictoriaMetrics: status %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, vm.JoinPath("/internal/force_flush").String(), nil)
	if err != nil {
		return err
	}
	if resp, err = client.Do(req); err != nil {
		return fmt.Errorf("cannot flush VictoriaMetrics: %w", err)
	}
	resp.Body.Close()
	return nil
}

func (h *history) writeLine(w *bufio.Writer, ser series, minutes []minute) error {
	labels, err := json.Marshal(ser.labels)
	if err != nil {
		return err
	}
	w.WriteString(`{"metric":`)
	w.Write(labels)
	w.WriteString(`,"values":[`)
	var v int64
	for i, m := range minutes {
		if i > 0 {
			w.WriteByte(',')
		}
		if i > 0 { // the first minute is the counter's start, at 0
			v += ser.value(m)
		}
		w.WriteString(strconv.FormatInt(v, 10))
	}
	w.WriteString(`],"timestamps":[`)
	for i := range minutes {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(strconv.FormatInt(h.start.Add(time.Duration(i)*time.Minute).UnixMilli(), 10))
	}
	_, err = w.WriteString("]}\n")
	return err
}

// tell prints what the month holds.
func (h *history) tell(w io.Writer) {
	var requests, samples int64
	for s := range h.minutes {
		for _, m := range h.minutes[s] {
			requests += m.ok + m.err500 + m.err503
		}
		samples += int64(len(h.seriesOf(s)) * len(h.minutes[s]))
	}
	fmt.Fprintf(w, "history: wrote %d days of Caddy's counters into VictoriaMetrics (%d requests, %d samples, one a minute):\n",
		days, requests, samples)
	for s, host := range h.hosts {
		fmt.Fprintf(w, "  %-24s %.2f%% errors as usual; %s\n", host, errRate[s]*100, h.told[s])
	}
}

func writeStory(path string, w window) error {
	b, err := json.MarshalIndent(w, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func readStory(path string) (window, error) {
	var w window
	b, err := os.ReadFile(path)
	if err != nil {
		return w, fmt.Errorf("cannot read -story (written by history write): %w", err)
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return w, fmt.Errorf("cannot read -story %s: %w", path, err)
	}
	return w, nil
}

// budgets is the part of slogate's /slogate/api/v1/slos that declare
// reports.
type budgets struct {
	SLOs []struct {
		Labels    map[string]string `json:"labels"`
		Objective struct {
			Name string `json:"name"`
		} `json:"objective"`
		Requests struct {
			ExcludedGood int64 `json:"excludedGood"`
			ExcludedBad  int64 `json:"excludedBad"`
		} `json:"requests"`
		Budgets map[string]struct {
			RemainingRatio float64 `json:"remainingRatio"`
		} `json:"budgets"`
	} `json:"slos"`
}

// budgetsOf reads the availability budgets of every host from slogate.
func budgetsOf(ctx context.Context, client *http.Client, slogate *url.URL) (map[string]string, map[string]int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, slogate.JoinPath("/slogate/api/v1/slos").String(), nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read slogate's budgets: %w", err)
	}
	defer resp.Body.Close()
	var b budgets
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		return nil, nil, fmt.Errorf("cannot read slogate's budgets: %w", err)
	}
	text, excluded := map[string]string{}, map[string]int64{}
	for _, s := range b.SLOs {
		if s.Objective.Name != "availability" {
			continue
		}
		host := s.Labels["host"]
		text[host] = "SLA " + percent(s.Budgets["sla"].RemainingRatio) + ", SLO " + percent(s.Budgets["slo"].RemainingRatio)
		excluded[host] = s.Requests.ExcludedGood + s.Requests.ExcludedBad
	}
	return text, excluded, nil
}

// percent says how much of a budget is left.
func percent(r float64) string {
	if r < 0 {
		return fmt.Sprintf("overspent by %.0f%%", -r*100)
	}
	return fmt.Sprintf("%.0f%% left", math.Floor(r*100))
}

// declare prints every host's budget as slogate replayed it, declares the
// outage as maintenance after the fact and prints its effect.
func declare(ctx context.Context, client *http.Client, slogate *url.URL, token string, w window, out io.Writer) error {
	before, _, err := budgetsOf(ctx, client, slogate)
	if err != nil {
		return err
	}
	if len(before) == 0 {
		return fmt.Errorf("slogate has no route after its backfill: is -backfill set?")
	}
	fmt.Fprintln(out, "history: slogate replayed the month (-backfill); availability budgets left:")
	var host string
	for h := range before {
		if regexp.MustCompile("^(?:" + w.Match["host"] + ")$").MatchString(h) {
			host = h
		}
	}
	for _, h := range slices.Sorted(maps.Keys(before)) {
		fmt.Fprintf(out, "  %-24s %s\n", h, before[h])
	}
	body, err := json.Marshal(w)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, slogate.JoinPath("/slogate/api/v1/maintenance").String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("cannot declare the maintenance window: %w", err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("cannot declare the maintenance window: slogate answered %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(msg, &created); err != nil {
		return fmt.Errorf("cannot read the created maintenance window %q: %w", msg, err)
	}
	after, excluded, err := budgetsOf(ctx, client, slogate)
	if err != nil {
		return err
	}
	loc := berlin()
	fmt.Fprintf(out, "history: declared %s's outage %s-%s as maintenance after the fact (%s, POST /slogate/api/v1/maintenance):\n"+
		"  %d requests left out; %s -> %s\n",
		host, w.Start.In(loc).Format("Jan 2 15:04"), w.End.In(loc).Format("15:04"), created.ID, excluded[host], before[host], after[host])
	return nil
}
