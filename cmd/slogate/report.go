package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// RunReport is `slogate report`: it fetches the SLA report of one calendar
// month, quarter or year from a running slogate (GET /slogate/api/v1/report) and writes it
// to stdout unchanged. The report is made by the server, which reads the
// synthetic counters from VictoriaMetrics; this command only asks for it.
func RunReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("slogate report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	period := fs.String("period", "", "calendar month YYYY-MM (2026-11), quarter YYYY-Qn (2026-Q4) or year YYYY (2026); empty means the current month (UTC)")
	format := fs.String("format", "csv", "json, csv or html")
	customer := fs.String("customer", "", "only the routes whose contract label customer has this value (and the services keyed by customer)")
	tenant := fs.String("tenant", "", "tenant accountID[:projectID] of a VictoriaMetrics cluster; empty means 0")
	base := fs.String("url", "http://127.0.0.1:8490", "base URL of a running slogate")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for the report")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "slogate report: fetch the SLA report of one month, quarter or year from a running slogate.\n\nUsage: slogate report -period=2026-11|2026-Q4|2026 [-format=csv|json|html] [-customer=acme] [-tenant=42] [-url=http://127.0.0.1:8490]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	u, err := url.Parse(*base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("cannot use -url %q: want http(s)://host:port", *base)
	}
	q := url.Values{"format": {*format}}
	if *period != "" {
		q.Set("period", *period)
	}
	if *customer != "" {
		q.Set("customer", *customer)
	}
	if *tenant != "" {
		q.Set("tenant", *tenant)
	}
	target := strings.TrimSuffix(*base, "/") + "/slogate/api/v1/report?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("cannot create request: %w", err)
	}
	resp, err := (&http.Client{Timeout: *timeout}).Do(req)
	if err != nil {
		return fmt.Errorf("cannot fetch report: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("cannot fetch report: %s answered %s: %s", *base, resp.Status, strings.TrimSpace(string(msg)))
	}
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		return fmt.Errorf("cannot write report: %w", err)
	}
	return nil
}
