package testenv

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// Sample is one line of a Prometheus text exposition.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// ScrapeMetrics fetches url (a /metrics page) and parses it.
func ScrapeMetrics(t testing.TB, url string) []Sample {
	t.Helper()
	samples, err := ParseMetrics(string(MustGet(t, url)))
	if err != nil {
		t.Fatalf("cannot parse metrics of %s: %s", url, err)
	}
	return samples
}

// SumMetric returns the sum of the samples named name whose labels include
// every pair of labels, and how many samples matched.
func SumMetric(samples []Sample, name string, labels map[string]string) (sum float64, n int) {
next:
	for _, s := range samples {
		if s.Name != name {
			continue
		}
		for k, v := range labels {
			if s.Labels[k] != v {
				continue next
			}
		}
		sum += s.Value
		n++
	}
	return sum, n
}

// ParseMetrics parses the Prometheus text format as written by
// VictoriaMetrics components and the VictoriaMetrics/metrics package:
// `name{label="value",...} value [timestamp]`, comments and blank lines
// skipped. Timestamps are ignored.
func ParseMetrics(text string) ([]Sample, error) {
	var out []Sample
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := parseMetricLine(line)
		if err != nil {
			return nil, fmt.Errorf("cannot parse line %d %q: %w", n+1, line, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func parseMetricLine(line string) (Sample, error) {
	s := Sample{Labels: map[string]string{}}
	i := strings.IndexAny(line, "{ \t")
	if i <= 0 {
		return s, fmt.Errorf("cannot find end of metric name")
	}
	s.Name, line = line[:i], line[i:]
	if line[0] == '{' {
		rest, err := parseLabels(line[1:], s.Labels)
		if err != nil {
			return s, err
		}
		line = rest
	}
	fields := strings.Fields(line)
	if len(fields) == 0 || len(fields) > 2 {
		return s, fmt.Errorf("cannot find value: want `value [timestamp]` after the labels, got %q", line)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, fmt.Errorf("cannot parse value: %w", err)
	}
	s.Value = v
	return s, nil
}

// parseLabels parses `a="x",b="y"}` into dst and returns what follows '}'.
func parseLabels(s string, dst map[string]string) (string, error) {
	for {
		s = strings.TrimLeft(s, " ,")
		if s == "" {
			return "", fmt.Errorf("cannot find closing brace of labels")
		}
		if s[0] == '}' {
			return s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return "", fmt.Errorf("cannot parse label at %q", s)
		}
		name := strings.TrimSpace(s[:eq])
		s = s[eq+2:]
		var b strings.Builder
		closed := false
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					b.WriteByte('\n')
				default:
					b.WriteByte(s[i])
				}
				continue
			}
			if c == '"' {
				s = s[i+1:]
				closed = true
				break
			}
			b.WriteByte(c)
		}
		if !closed {
			return "", fmt.Errorf("cannot find closing quote of label %q", name)
		}
		dst[name] = b.String()
	}
}
