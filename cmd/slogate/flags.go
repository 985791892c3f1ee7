package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// options are slogate's settings. Each is a flag (VictoriaMetrics style,
// e.g. -upstream.url) and an environment variable (SLOGATE_UPSTREAM_URL);
// a flag beats the environment, which beats the default.
type options struct {
	HTTPListenAddr      string        `flag:"httpListenAddr" env:"HTTP_LISTEN_ADDR" usage:"address to listen on for remote writes, the API, the page and /metrics"`
	UpstreamURL         string        `flag:"upstream.url" env:"UPSTREAM_URL" usage:"VictoriaMetrics to forward to: single node (http://host:8428) or vminsert (http://host:8480)"`
	UpstreamTimeout     time.Duration `flag:"upstream.timeout" env:"UPSTREAM_TIMEOUT" usage:"timeout of one upstream request"`
	RetryAfter          time.Duration `flag:"upstream.retryAfter" env:"UPSTREAM_RETRY_AFTER" usage:"Retry-After sent with a 503 when the upstream is unavailable and named none"`
	UpstreamReadURL     string        `flag:"upstream.readURL" env:"UPSTREAM_READ_URL" usage:"VictoriaMetrics to read SLI history (restart replay, -backfill) and the SLA report from: empty means -upstream.url; with -upstream.cluster a vmselect URL (http://host:8481)"`
	UpstreamCluster     bool          `flag:"upstream.cluster" env:"UPSTREAM_CLUSTER" usage:"the upstream is a VictoriaMetrics cluster: read history per tenant through vmselect paths (/select/<tenant>/prometheus)"`
	Config              string        `flag:"config" env:"CONFIG" usage:"YAML file with sources, contracts, objectives and maintenance; empty means every built-in preset with auto-discovery"`
	StateDir            string        `flag:"stateDir" env:"STATE_DIR" usage:"directory for state snapshots, maintenance windows and the audit log"`
	SnapshotInterval    time.Duration `flag:"snapshot.interval" env:"SNAPSHOT_INTERVAL" usage:"how often the engine state is snapshotted under -stateDir (also at shutdown); after a crash the gap is replayed from VictoriaMetrics"`
	Backfill            bool          `flag:"backfill" env:"BACKFILL" usage:"on a start without state, replay the SLI history of the longest compliance window from VictoriaMetrics before counting new writes"`
	RetroactiveLimit    time.Duration `flag:"maintenance.retroactiveLimit" env:"MAINTENANCE_RETROACTIVE_LIMIT" usage:"how far in the past a maintenance window may start"`
	APITokenFile        string        `flag:"api.tokenFile" env:"API_TOKEN_FILE" usage:"file holding the bearer token required by every mutating API call; without it mutations are refused"`
	EvalInterval        time.Duration `flag:"eval.interval" env:"EVAL_INTERVAL" usage:"interval of the synthetic series, aligned in event time"`
	CompatSloth         bool          `flag:"compat.sloth" env:"COMPAT_SLOTH" usage:"also write Sloth-compatible series (slo:sli_error:ratio_rate5m ... with sloth_service and sloth_slo from the config's sloth block, by default the route and the objective name) for dashboards and rules made for Sloth; alerts: slogate sloth rules"`
	MaxRequestBodySize  byteSize      `flag:"maxRequestBodySize" env:"MAX_REQUEST_BODY_SIZE" usage:"largest request body (compressed); larger gets 413"`
	MaxDecompressedSize byteSize      `flag:"maxDecompressedSize" env:"MAX_DECOMPRESSED_SIZE" usage:"largest decompressed remote write; larger gets 413"`
	MaxConcurrentWrites int           `flag:"maxConcurrentWrites" env:"MAX_CONCURRENT_WRITES" usage:"writes processed at once; 0 means 4 x CPUs (at least 8)"`
	BodyReadTimeout     time.Duration `flag:"write.bodyReadTimeout" env:"WRITE_BODY_READ_TIMEOUT" usage:"how long a request's headers and first 8 KiB, and then the rest of its body, may take to arrive; a slower sender gets 503 with Retry-After"`
	MaxBodyBytes        byteSize      `flag:"write.maxBodyBytesInFlight" env:"WRITE_MAX_BODY_BYTES_IN_FLIGHT" usage:"write bodies held in memory at once (being read, waiting or processed); each write reserves its Content-Length before its body is read, and waits (then gets 503) when the budget is spent"`
	MaxProxied          int           `flag:"proxy.maxConcurrentRequests" env:"PROXY_MAX_CONCURRENT_REQUESTS" usage:"passed-through requests (queries, imports, exports) served at once; more wait, then get 503"`
	MaxRoutes           int           `flag:"sli.maxRoutes" env:"SLI_MAX_ROUTES" usage:"routes tracked across all tenants and sources (a route takes a few KiB); series of further routes are forwarded but not counted"`
	MaxTenants          int           `flag:"sli.maxTenants" env:"SLI_MAX_TENANTS" usage:"tenants with SLI state; series of further tenants are forwarded but not counted"`
	MaxLabelsPerSeries  int           `flag:"sli.maxLabelsPerSeries" env:"SLI_MAX_LABELS_PER_SERIES" usage:"SLI series with more labels are forwarded but not counted"`
	MaxLabelLen         int           `flag:"sli.maxLabelLen" env:"SLI_MAX_LABEL_LEN" usage:"SLI series with a longer label name or value are forwarded but not counted"`
	AllowSynthetic      bool          `flag:"write.allowSynthetic" env:"WRITE_ALLOW_SYNTHETIC" usage:"forward incoming series named like slogate's synthetic series (slo_*, Sloth's slo:* and sloth_slo_info) instead of dropping them; only for a slogate writing through another one"`
	AllowAdminPaths     bool          `flag:"proxy.allowAdminPaths" env:"PROXY_ALLOW_ADMIN_PATHS" usage:"pass VictoriaMetrics' admin and internal paths (/api/v1/admin/, /internal/, /snapshot, /-/, /admin/, /delete/, /debug/) through instead of refusing them with 403"`
	ShutdownTimeout     time.Duration `flag:"shutdownTimeout" env:"SHUTDOWN_TIMEOUT" usage:"how long SIGTERM waits for requests in flight"`
	Version             bool          `flag:"version" usage:"print the version and exit"`
}

func defaultOptions() options {
	return options{
		HTTPListenAddr:      ":8490",
		UpstreamURL:         "http://127.0.0.1:8428",
		UpstreamTimeout:     30 * time.Second,
		RetryAfter:          5 * time.Second,
		StateDir:            "slogate-data",
		SnapshotInterval:    5 * time.Minute,
		RetroactiveLimit:    72 * time.Hour,
		EvalInterval:        15 * time.Second,
		MaxRequestBodySize:  32 << 20,
		MaxDecompressedSize: 32 << 20,
		BodyReadTimeout:     10 * time.Second,
		MaxBodyBytes:        128 << 20,
		MaxProxied:          8,
		MaxRoutes:           100_000,
		MaxTenants:          1_000,
		MaxLabelsPerSeries:  64,
		MaxLabelLen:         4096,
		ShutdownTimeout:     30 * time.Second,
	}
}

const envPrefix = "SLOGATE_"

// parseOptions applies the environment, then the command line, to the
// defaults. errHelp is returned after printing usage for -h.
func parseOptions(args, environ []string, stderr io.Writer) (options, error) {
	o := defaultOptions()
	envMap := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			envMap[k] = v
		}
	}
	if err := env.ParseWithOptions(&o, env.Options{Prefix: envPrefix, Environment: envMap}); err != nil {
		return o, envError(err, envMap)
	}
	fs := flag.NewFlagSet("slogate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rv := reflect.ValueOf(&o).Elem()
	rt := rv.Type()
	for i := range rt.NumField() {
		f := rt.Field(i)
		usage := f.Tag.Get("usage")
		if e := f.Tag.Get("env"); e != "" {
			usage += " (env " + envPrefix + e + ")"
		}
		ptr := rv.Field(i).Addr().Interface()
		name := f.Tag.Get("flag")
		switch p := ptr.(type) {
		case *string:
			fs.StringVar(p, name, *p, usage)
		case *time.Duration:
			fs.DurationVar(p, name, *p, usage)
		case *int:
			fs.IntVar(p, name, *p, usage)
		case *bool:
			fs.BoolVar(p, name, *p, usage)
		case *byteSize:
			fs.Var(p, name, usage)
		default:
			panic(fmt.Sprintf("BUG: flag %s has unsupported type %T", name, ptr))
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "slogate: SLO and SLA error budgets on the VictoriaMetrics write path.\n\nUsage: slogate [flags]\n       slogate report [flags] (see slogate report -h)\n       slogate openslo import|export [flags] FILE... (see slogate openslo -h)\n       slogate sloth rules [flags] (see slogate sloth rules -h)\n\nFlags (each also an environment variable; a flag beats the environment, which beats the default):\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, nil
}

// byteSize is a size in bytes, written as a number with an optional suffix
// KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
type byteSize int

func (b *byteSize) String() string {
	n := int(*b)
	for _, u := range []struct {
		s string
		n int
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.n == 0 {
			return strconv.Itoa(n/u.n) + u.s
		}
	}
	return strconv.Itoa(n)
}

func (b *byteSize) Set(s string) error {
	units := []struct {
		s string
		n int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := 1
	for _, u := range units {
		if strings.HasSuffix(s, u.s) {
			s, mult = strings.TrimSuffix(s, u.s), u.n
			break
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 {
		return fmt.Errorf("cannot parse size %q: want a positive number with an optional KiB, MiB, GiB, KB, MB or GB", s)
	}
	*b = byteSize(n * mult)
	return nil
}

// UnmarshalText lets caarlos0/env parse sizes from the environment.
func (b *byteSize) UnmarshalText(t []byte) error { return b.Set(string(t)) }

// envError names the variable of a value caarlos0/env could not parse,
// which its own error leaves to a Go field name.
func envError(err error, envMap map[string]string) error {
	var pe env.ParseError
	if errors.As(err, &pe) {
		if f, ok := reflect.TypeFor[options]().FieldByName(pe.Name); ok {
			name := envPrefix + f.Tag.Get("env")
			return fmt.Errorf("cannot parse %s=%q: %w", name, envMap[name], pe.Err)
		}
	}
	return fmt.Errorf("cannot parse environment: %w", err)
}
