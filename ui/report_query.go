package ui

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/maintenance"
)

// maxExcludedSpans bounds the VictoriaMetrics queries one report makes for
// maintenance (three per distinct span).
const maxExcludedSpans = 1000

// excluded returns, per route key, the raw events in the minutes the
// matching windows cover within [start, until). A minute is covered when
// its start lies in a window, as in the engine: a window [s, e) covers the
// minutes [ceil(s), ceil(e)). Each route's spans are merged first, so
// overlapping windows count once; each distinct span is queried once.
func (r *Report) excluded(sel string, routes []reportRoute, masks []*maintenance.Window, start, until time.Time) (map[string]counts, error) {
	const minute = int64(time.Minute / time.Millisecond)
	type span struct{ from, to int64 } // minutes
	bySpan := map[span][]string{}
	lo, hi := budget.Interval{Start: start.UnixMilli(), End: until.UnixMilli()}.Minutes()
	for _, rt := range routes {
		var spans []span
		for _, m := range masks {
			if !m.Matches(rt.labels) {
				continue
			}
			for _, iv := range m.AppendIntervals(nil, start.UnixMilli(), until.UnixMilli()) {
				from, to := iv.Minutes()
				s := span{max(from, lo), min(to, hi)}
				if s.from < s.to {
					spans = append(spans, s)
				}
			}
		}
		slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.from, b.from) })
		var merged []span
		for _, s := range spans {
			if n := len(merged); n > 0 && s.from <= merged[n-1].to {
				merged[n-1].to = max(merged[n-1].to, s.to)
				continue
			}
			merged = append(merged, s)
		}
		for _, s := range merged {
			bySpan[s] = append(bySpan[s], rt.key)
		}
	}
	if len(bySpan) > maxExcludedSpans {
		return nil, fmt.Errorf("cannot report maintenance: %d distinct window spans in the period, at most %d: %w", len(bySpan), maxExcludedSpans, errBadRequest)
	}
	out := map[string]counts{}
	for s, keys := range bySpan {
		inc, err := r.increase(sel, time.UnixMilli(s.from*minute), time.UnixMilli(s.to*minute))
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			c := out[k]
			c.good += inc[k].good
			c.bad += inc[k].bad
			out[k] = c
		}
	}
	return out, nil
}

// counts are a route's good and bad events; labels are its series' labels
// without __name__ and result.
type counts struct {
	good, bad float64
	labels    []budget.Label
}

// boundaryLag moves every boundary to the end of its minute (see the top
// of this file).
const boundaryLag = time.Minute - time.Millisecond

// increase returns, per route key, the events of the counter sel in the
// minutes [from, to): A + (B - C) as described at the top of this file.
func (r *Report) increase(sel string, from, to time.Time) (map[string]counts, error) {
	from, to = from.Add(boundaryLag), to.Add(boundaryLag)
	d := strconv.FormatInt(to.Sub(from).Milliseconds(), 10) + "ms"
	a, err := r.query("increase_prometheus("+sel+"["+d+"])", to)
	if err != nil {
		return nil, err
	}
	b, err := r.query("first_over_time("+sel+"["+d+"])", to)
	if err != nil {
		return nil, err
	}
	c, err := r.query("last_over_time("+sel+"[1h])", from)
	if err != nil {
		return nil, err
	}
	var missing []string
	for k := range b {
		if _, ok := c[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		// Some series have no sample in the hour before the span: look a
		// month back before assuming they start at 0.
		c31, err := r.query("last_over_time("+sel+"[31d])", from)
		if err != nil {
			return nil, err
		}
		for _, k := range missing {
			if v, ok := c31[k]; ok {
				c[k] = v
			}
		}
	}
	out := map[string]counts{}
	for k, first := range b {
		base := c[k].value
		step := first.value - base
		if step < 0 {
			step = first.value // a reset at the boundary
			if (base-first.value)*8 < base {
				step = 0 // a partial reset, as increase() sees it
			}
		}
		inc := a[k].value + step
		rk, result := routeKey(first.labels)
		cnt := out[rk]
		cnt.labels = first.labels
		switch result {
		case "good":
			cnt.good += inc
		case "bad":
			cnt.bad += inc
		}
		out[rk] = cnt
	}
	for rk, cnt := range out {
		cnt.labels = slices.DeleteFunc(slices.Clone(cnt.labels), func(l budget.Label) bool { return l.Name == "result" })
		out[rk] = cnt
	}
	return out, nil
}

// sample is one element of an instant vector.
type sample struct {
	labels []budget.Label // sorted by name, without __name__
	value  float64
}

// query runs an instant query at t and returns its vector by series key.
func (r *Report) query(q string, t time.Time) (map[string]sample, error) {
	points, err := r.cfg.Client.Query(context.Background(), budget.Tenant{}, q, t)
	if err != nil {
		return nil, err
	}
	out := make(map[string]sample, len(points))
	for _, p := range points {
		out[seriesKey(p.Metric)] = sample{labels: sortedLabels(p.Metric), value: p.Value}
	}
	return out, nil
}

// routeKey is the key of a series without its result label, and the
// result.
func routeKey(labels []budget.Label) (key, result string) {
	m := make(map[string]string, len(labels))
	for _, l := range labels {
		if l.Name == "result" {
			result = l.Value
			continue
		}
		m[l.Name] = l.Value
	}
	return seriesKey(m), result
}

// seriesKey is a canonical form of a label set: name="value" pairs sorted
// by name.
func seriesKey(m map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(m) {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(m[k]))
		b.WriteByte(',')
	}
	return b.String()
}

func sortedLabels(m map[string]string) []budget.Label {
	out := make([]budget.Label, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, budget.Label{Name: k, Value: m[k]})
	}
	return out
}

func labelOf(labels []budget.Label, name string) (string, bool) {
	for _, l := range labels {
		if l.Name == name {
			return l.Value, true
		}
	}
	return "", false
}
