package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/slogate/slogate/internal/testenv"
)

// TestMain removes the slogate binary TestContainerFlags builds.
func TestMain(m *testing.M) { testenv.Main(m) }

// sloMetrics is the synthetic series contract (design.md, "Synthetic
// series"): the only slo_* names the rules and the dashboard may read.
var sloMetrics = []string{
	"slo_requests_total",
	"slo_requests_excluded_total",
	"slo_objective_ratio",
	"slo_sli_ratio",
	"slo_burn_rate",
	"slo_error_budget_remaining_ratio",
	"slo_error_budget_remaining_seconds",
	"slo_error_budget_exhaustion_seconds",
	"slo_maintenance_active",
	"slo_release_state",
	"slo_slices_total",
	"slo_sla_credit_percent",
}

// selfMetrics are the slogate_* names the rules and the dashboard read.
// TestSelfMetricsExist checks that slogate's code still exports each one.
var selfMetrics = []string{
	"slogate_http_requests_total",
	"slogate_upstream_errors_total",
	"slogate_upstream_request_duration_seconds",
	"slogate_write_rejected_total",
	"slogate_write_series_total",
	"slogate_sli_series_total",
	"slogate_sli_samples_total",
	"slogate_sli_series_refused_total",
	"slogate_synthetic_blocks_written_total",
	"slogate_synthetic_blocks_dropped_total",
	"slogate_synthetic_blocks_pending",
}

// histograms are selfMetrics exported as histograms (VictoriaMetrics/metrics:
// _bucket{vmrange}, _sum, _count).
var histograms = []string{"slogate_upstream_request_duration_seconds"}

// knownMetric reports whether name is in the contract or a series of one of
// the histograms.
func knownMetric(name string) bool {
	if slices.Contains(sloMetrics, name) || slices.Contains(selfMetrics, name) {
		return true
	}
	for _, h := range histograms {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if name == h+suffix {
				return true
			}
		}
	}
	return false
}

func TestSelfMetricsExist(t *testing.T) {
	root := testenv.RepoRoot(t)
	var src strings.Builder
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".bin", ".tmp", "deploy", "e2e", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		src.Write(b)
		return err
	})
	if err != nil {
		t.Fatalf("cannot read slogate's sources: %s", err)
	}
	for _, name := range selfMetrics {
		if !regexp.MustCompile(`\b` + name + `\b`).MatchString(src.String()) {
			t.Errorf("%s is read by deploy/ (rules or dashboard) but no Go source outside deploy/ exports it any more", name)
		}
	}
}

// metricNames returns the metric names a PromQL / MetricsQL expression
// reads. It is a lexer, not a parser: it drops strings, label matchers
// {...}, ranges [...], Grafana variables, numbers and durations, the
// label lists of by/without/on/ignoring/group_left/group_right, keywords,
// and identifiers that are functions or aggregations (followed by "(" or by
// "by"/"without"). What is left are metric names.
func metricNames(expr string) []string {
	var names []string
	s := expr
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(s, i)
		case c == '{':
			i = skipBalanced(s, i, '{', '}')
		case c == '[':
			i = skipBalanced(s, i, '[', ']')
		case c == '$':
			i++
			if i < len(s) && s[i] == '{' {
				i = skipBalanced(s, i, '{', '}')
			}
			for i < len(s) && isIdent(s[i]) {
				i++
			}
		case c >= '0' && c <= '9' || c == '.':
			for i < len(s) && (isIdent(s[i]) || s[i] == '.') {
				i++
			}
		case isIdent(c):
			start := i
			for i < len(s) && (isIdent(s[i]) || s[i] == ':') {
				i++
			}
			word := s[start:i]
			next, nextWord := peek(s, i)
			lw := strings.ToLower(word)
			switch {
			case slices.Contains([]string{"by", "without", "on", "ignoring", "group_left", "group_right"}, lw):
				if next == '(' {
					i = skipBalanced(s, strings.IndexByte(s[i:], '(')+i, '(', ')')
				}
			case slices.Contains([]string{"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}, lw):
			case next == '(' || nextWord == "by" || nextWord == "without":
				// a function or an aggregation
			default:
				names = append(names, word)
			}
		default:
			i++
		}
	}
	return names
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// peek returns the next non-space byte after s[i:] and, if it starts a
// word, that word in lower case.
func peek(s string, i int) (byte, string) {
	for i < len(s) && strings.IndexByte(" \t\r\n", s[i]) >= 0 {
		i++
	}
	if i == len(s) {
		return 0, ""
	}
	j := i
	for j < len(s) && isIdent(s[j]) {
		j++
	}
	return s[i], strings.ToLower(s[i:j])
}

// skipString returns the index after the string literal starting at s[i].
func skipString(s string, i int) int {
	q := s[i]
	for i++; i < len(s); i++ {
		if s[i] == '\\' && q != '`' {
			i++
			continue
		}
		if s[i] == q {
			return i + 1
		}
	}
	return len(s)
}

// skipBalanced returns the index after the bracket that closes s[i] == open,
// skipping string literals inside.
func skipBalanced(s string, i int, open, closing byte) int {
	depth := 0
	for i < len(s) {
		switch s[i] {
		case '"', '\'', '`':
			i = skipString(s, i)
			continue
		case open:
			depth++
		case closing:
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return len(s)
}

func TestMetricNames(t *testing.T) {
	f := func(expr string, want ...string) {
		t.Helper()
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%q) = %q, want %q", expr, got, want)
		}
	}
	f(`up`, "up")
	f(`up{job="slogate"} == 0 or absent(up{job="slogate"})`, "up", "up")
	f(`slo_burn_rate{window="1h"} > 14.4 and ignoring(window) slo_burn_rate{window="5m"} > 14.4`, "slo_burn_rate", "slo_burn_rate")
	f(`sum by (source) (rate(slo_requests_total[15m])) == 0`, "slo_requests_total")
	f(`sum(rate(x_total[5m])) by (job) / on (job) group_left(instance) y offset 1h`, "x_total", "y")
	f(`histogram_quantile(0.99, sum by (vmrange) (rate(h_bucket{a="}"}[$__rate_interval])))`, "h_bucket")
	f(`label_replace(m, "dst", "$1", "src", "(.*)") * 1e3`, "m")
	f(`max without (kind) (a) + 2 * min(b{x=~"$customer"})`, "a", "b")
	f(`absent_over_time(slo_objective_ratio[10m])`, "slo_objective_ratio")
}
