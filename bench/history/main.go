// Command history fills an SLI engine with the history of many busy
// routes, fast, and then keeps them busy in real time: the load of the
// memory and scale rows of `make bench` (bench/README.md).
//
// Every route is an ingress-nginx route (nginx_ingress_controller_requests
// with the labels ingress-nginx exports) with two series, status 200 at
// 200-599 requests per minute (±20% from minute to minute) and status 503
// at 0-0.75 per minute, whose
// counters are functions of time: history and live writes continue each
// other without a reset. The history is written through the remote write
// endpoint (slogate) with old timestamps, oldest first, one request per
// slice of routes and time holding many samples per series: the last
// -fine at -fineStep (one sample a minute: every minute of the exact
// horizon has counts), older time at -coarseStep (one sample an hour: the
// engine keeps older time in hours or days, so every unit has counts).
// Then, for -live, one sample per series every -liveStep at the wall
// clock, as a scrape would send.
//
// It prints {"event":"history_done"} and {"event":"live_end"} on stderr
// (with -events) and a JSON summary on stdout.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/slogate/slogate/remotewrite"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "history: %s\n", err)
		os.Exit(1)
	}
}

// summary is what the run did, printed as JSON.
type summary struct {
	Routes         int     `json:"routes"`
	Series         int     `json:"series"`
	FromMs         int64   `json:"from_ms"`
	HistorySamples int64   `json:"history_samples"`
	HistoryBytes   int64   `json:"history_bytes"`
	HistorySeconds float64 `json:"history_s"`
	LiveSamples    int64   `json:"live_samples"`
	LiveSteps      int     `json:"live_steps"`
	LiveSeconds    float64 `json:"live_s"`
}

type config struct {
	url                         string
	routes, workers, maxSamples int
	from, to                    int64
	fine, fineStep, coarseStep  time.Duration
	live, liveStep, timeout     time.Duration
	events, stopOnStdin         bool
	client                      *http.Client
	stderr                      io.Writer
	mu                          sync.Mutex
	bytes, samples              int64
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &config{stderr: stderr}
	fs.StringVar(&c.url, "url", "", "remote write URL on this machine (required; loopback only)")
	fs.IntVar(&c.routes, "routes", 20_000, "routes, two series each (status 200 and 503)")
	fs.Int64Var(&c.from, "from", 0, "oldest timestamp in Unix ms (required)")
	fs.DurationVar(&c.fine, "fine", 73*time.Hour, "the newest part of the history written at -fineStep")
	fs.DurationVar(&c.fineStep, "fineStep", time.Minute, "sample interval of the newest -fine of the history")
	fs.DurationVar(&c.coarseStep, "coarseStep", time.Hour, "sample interval of the older history")
	fs.DurationVar(&c.live, "live", 0, "after the history, write one sample per series every -liveStep for this long")
	fs.DurationVar(&c.liveStep, "liveStep", 15*time.Second, "interval of the live writes")
	fs.IntVar(&c.workers, "workers", 2, "requests in flight, each for its own share of the routes")
	fs.IntVar(&c.maxSamples, "maxSamples", 100_000, "samples per request, about")
	fs.DurationVar(&c.timeout, "timeout", time.Minute, "timeout of one request")
	fs.BoolVar(&c.events, "events", false, "print history_done and live_end events on stderr")
	fs.BoolVar(&c.stopOnStdin, "stopOnStdin", false, "end the live phase early when a line arrives on stdin")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkLoopback(c.url); err != nil {
		return err
	}
	if c.from <= 0 || c.routes <= 0 || c.workers <= 0 || c.fineStep <= 0 || c.coarseStep <= 0 || c.liveStep <= 0 {
		return errors.New("-from, -routes, -workers and the steps must be positive")
	}
	c.workers = min(c.workers, c.routes)
	c.client = &http.Client{Timeout: c.timeout, Transport: &http.Transport{MaxIdleConnsPerHost: c.workers}}
	c.to = time.Now().UnixMilli()
	s := summary{Routes: c.routes, Series: 2 * c.routes, FromMs: c.from}

	began := time.Now()
	if err := c.history(); err != nil {
		return err
	}
	s.HistorySeconds = time.Since(began).Seconds()
	s.HistorySamples, s.HistoryBytes = c.samples, c.bytes
	c.event("history_done")

	// A line on stdin ends the live phase early (-stopOnStdin).
	stopped := make(chan struct{})
	if c.stopOnStdin {
		go func() {
			_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
			close(stopped)
		}()
	}
	liveBegan := time.Now()
live:
	for next := time.Now(); time.Since(liveBegan) < c.live; {
		next = next.Add(c.liveStep)
		if err := c.step([]int64{time.Now().UnixMilli()}); err != nil {
			return err
		}
		s.LiveSteps++
		s.LiveSamples += int64(2 * c.routes)
		select {
		case <-stopped:
			break live
		case <-time.After(time.Until(next)):
		}
	}
	s.LiveSeconds = time.Since(liveBegan).Seconds()
	c.event("live_end")
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

func (c *config) event(name string) {
	if c.events {
		fmt.Fprintf(c.stderr, "{\"event\":%q,\"unix_ms\":%d}\n", name, time.Now().UnixMilli())
	}
}

// history writes [from, to], oldest first, in chunks of timestamps.
func (c *config) history() error {
	fineFrom := max(c.from, c.to-c.fine.Milliseconds())
	var chunk []int64
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		err := c.step(chunk)
		chunk = chunk[:0]
		return err
	}
	add := func(ts int64, per int) error {
		chunk = append(chunk, ts)
		if len(chunk) >= per {
			return flush()
		}
		return nil
	}
	for ts := c.from; ts < fineFrom; ts += c.coarseStep.Milliseconds() {
		if err := add(ts, 24); err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	fs := c.fineStep.Milliseconds()
	for ts := (fineFrom + fs - 1) / fs * fs; ts <= c.to; ts += fs {
		if err := add(ts, 60); err != nil {
			return err
		}
	}
	return flush()
}

// step writes the samples of every series at the timestamps ts: worker w
// takes the routes r with r mod workers = w, so that each series' samples
// arrive in order.
func (c *config) step(ts []int64) error {
	errs := make([]error, c.workers)
	var wg sync.WaitGroup
	for w := range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = c.write(w, ts)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *config) write(w int, ts []int64) error {
	var (
		series  []remotewrite.TimeSeries
		n       int
		labels  [2][]remotewrite.Label
		samples [2][]remotewrite.Sample
		raw     []byte
		body    []byte
	)
	send := func() error {
		if len(series) == 0 {
			return nil
		}
		raw = remotewrite.AppendWriteRequest(raw[:0], series)
		body = remotewrite.AppendSnappy(body[:0], raw)
		sent := n
		series, n = series[:0], 0
		if err := c.post(body); err != nil {
			return err
		}
		c.mu.Lock()
		c.bytes += int64(len(body))
		c.samples += int64(sent)
		c.mu.Unlock()
		return nil
	}
	for r := w; r < c.routes; r += c.workers {
		for k, status := range []string{"200", "503"} {
			labels[k] = routeLabels(labels[k][:0], r, status)
			samples[k] = samples[k][:0]
			for _, t := range ts {
				samples[k] = append(samples[k], remotewrite.Sample{Value: value(r, k, t-c.from), Timestamp: t})
			}
			// Each series keeps its own copies until the request is encoded.
			series = append(series, remotewrite.TimeSeries{
				Labels:  append([]remotewrite.Label(nil), labels[k]...),
				Samples: append([]remotewrite.Sample(nil), samples[k]...),
			})
			n += len(ts)
		}
		if n >= c.maxSamples {
			if err := send(); err != nil {
				return err
			}
		}
	}
	return send()
}

// value is the counter of route r's series k (0: status 200, 1: 503) at
// ms after the start: 200-599 requests a minute, each minute ±20% off by a
// hash of the route and the minute (real traffic is not constant; storage
// that packs or compresses counts must not be flattered by it), and 0-0.75
// errors a minute. The counter stays monotonic between any two sample
// times: within a minute it grows at the route's rate, and the jump at a
// minute boundary (at most a fifth of a minute's requests) is smaller than
// the requests of a 15s scrape interval.
func value(r, k int, ms int64) float64 {
	minutes := float64(ms) / 60_000
	if k == 1 {
		return float64(int64(minutes * float64(r%4) / 4))
	}
	rate := float64(200 + r%400)
	jitter := rate / 5 * unit(uint64(r)<<32^uint64(ms/60_000))
	return float64(int64(minutes*rate + jitter))
}

// unit hashes x to [0, 1) (splitmix64).
func unit(x uint64) float64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

func routeLabels(dst []remotewrite.Label, r int, status string) []remotewrite.Label {
	return append(dst,
		remotewrite.Label{Name: "__name__", Value: "nginx_ingress_controller_requests"},
		remotewrite.Label{Name: "controller_class", Value: "k8s.io/ingress-nginx"},
		remotewrite.Label{Name: "controller_namespace", Value: "ingress-nginx"},
		remotewrite.Label{Name: "host", Value: fmt.Sprintf("app%03d.example.com", r%1000)},
		remotewrite.Label{Name: "ingress", Value: fmt.Sprintf("web-%05d", r)},
		remotewrite.Label{Name: "job", Value: "ingress-nginx"},
		remotewrite.Label{Name: "namespace", Value: fmt.Sprintf("team-%02d", r%40)},
		remotewrite.Label{Name: "path", Value: "/api/v1/items"},
		remotewrite.Label{Name: "status", Value: status},
	)
}

func (c *config) post(body []byte) error {
	req, err := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("cannot write history: %w", err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("cannot write history: %s: %s", resp.Status, msg)
	}
	return nil
}

// checkLoopback refuses any target that is not a loopback address.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("cannot use -url=%q: want http://127.0.0.1:port/path", raw)
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("cannot use -url=%q: only loopback addresses (127.0.0.1, ::1) are allowed", raw)
	}
	if _, err := strconv.Atoi(u.Port()); err != nil {
		return fmt.Errorf("cannot use -url=%q: it needs a port", raw)
	}
	return nil
}
