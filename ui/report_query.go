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

// span is a half-open range of Unix minutes.
type span struct{ from, to int64 }

// routeSpans returns the minutes in [lo, hi) that the windows matching rt
// cover, merged and sorted. A minute is covered when its start lies in a
// window, as in the engine: a window [s, e) covers the minutes
// [ceil(s), ceil(e)).
func routeSpans(rt reportRoute, masks []*maintenance.Window, lo, hi int64) []span {
	const minute = int64(time.Minute / time.Millisecond)
	var spans []span
	for _, m := range masks {
		if !m.Matches(rt.labels) {
			continue
		}
		for _, iv := range m.AppendIntervals(nil, lo*minute, hi*minute) {
			from, to := iv.Minutes()
			if s := (span{max(from, lo), min(to, hi)}); s.from < s.to {
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
	return merged
}

// serviceSpans are the minutes in maintenance on every one of a service's
// routes: the intersection of their spans.
func serviceSpans(members []string, spans map[string][]span) []span {
	if len(members) == 0 {
		return nil
	}
	out := spans[members[0]]
	for _, k := range members[1:] {
		other := spans[k]
		var next []span
		for i, j := 0, 0; i < len(out) && j < len(other); {
			if s := (span{max(out[i].from, other[j].from), min(out[i].to, other[j].to)}); s.from < s.to {
				next = append(next, s)
			}
			if out[i].to < other[j].to {
				i++
			} else {
				j++
			}
		}
		out = next
	}
	return out
}

// spanMinutes is the number of minutes in spans.
func spanMinutes(spans []span) int64 {
	n := int64(0)
	for _, s := range spans {
		n += s.to - s.from
	}
	return n
}

// inSpans reports whether minute m lies in one of the sorted spans.
func inSpans(spans []span, m int64) bool {
	i, _ := slices.BinarySearchFunc(spans, m, func(s span, m int64) int {
		switch {
		case s.to <= m:
			return -1
		case s.from > m:
			return 1
		}
		return 0
	})
	return i < len(spans) && spans[i].from <= m && m < spans[i].to
}

// excluded returns, per route key, the raw events in the routes' spans
// before minute hi. Each distinct span is queried once.
func (r *Report) excluded(t budget.Tenant, sel string, spans map[string][]span, hi int64) (map[string]counts, error) {
	const minute = int64(time.Minute / time.Millisecond)
	bySpan := map[span][]string{}
	for k, ss := range spans {
		for _, s := range ss {
			if s.to = min(s.to, hi); s.from < s.to {
				bySpan[s] = append(bySpan[s], k)
			}
		}
	}
	if len(bySpan) > maxExcludedSpans {
		return nil, fmt.Errorf("cannot report maintenance: %d distinct window spans in the period, at most %d: %w", len(bySpan), maxExcludedSpans, errBadRequest)
	}
	out := map[string]counts{}
	for s, keys := range bySpan {
		inc, err := r.increase(t, sel, time.UnixMilli(s.from*minute), time.UnixMilli(s.to*minute))
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
func (r *Report) increase(t budget.Tenant, sel string, from, to time.Time) (map[string]counts, error) {
	from, to = from.Add(boundaryLag), to.Add(boundaryLag)
	d := strconv.FormatInt(to.Sub(from).Milliseconds(), 10) + "ms"
	a, err := r.query(t, "increase_prometheus("+sel+"["+d+"])", to)
	if err != nil {
		return nil, err
	}
	b, err := r.query(t, "first_over_time("+sel+"["+d+"])", to)
	if err != nil {
		return nil, err
	}
	c, err := r.base(t, sel, from, b)
	if err != nil {
		return nil, err
	}
	out := map[string]counts{}
	for k, first := range b {
		inc := a[k].value + counterStep(c[k].value, first.value)
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

// base returns the counters C at from (already moved by boundaryLag): the
// last sample in the hour before, or, for the series of want without one,
// in the 31 days before; a series without either starts at 0.
func (r *Report) base(t budget.Tenant, sel string, from time.Time, want map[string]sample) (map[string]sample, error) {
	c, err := r.query(t, "last_over_time("+sel+"[1h])", from)
	if err != nil {
		return nil, err
	}
	var missing []string
	for k := range want {
		if _, ok := c[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 || want == nil {
		// Some series have no sample in the hour before the span: look a
		// month back before assuming they start at 0.
		c31, err := r.query(t, "last_over_time("+sel+"[31d])", from)
		if err != nil {
			return nil, err
		}
		for k, v := range c31 {
			if _, ok := c[k]; !ok {
				c[k] = v
			}
		}
	}
	return c, nil
}

// counterStep is the events between two counter values: the difference,
// or after a reset the new value, unless the drop is under 1/8 of the old
// value, which VictoriaMetrics' increase() treats as a partial reset
// (step 0).
func counterStep(prev, v float64) float64 {
	if v >= prev {
		return v - prev
	}
	if (prev-v)*8 < prev {
		return 0
	}
	return v
}

// sample is one element of an instant vector.
type sample struct {
	labels []budget.Label // sorted by name, without __name__
	value  float64
}

// query runs an instant query at t and returns its vector by series key.
func (r *Report) query(tenant budget.Tenant, q string, t time.Time) (map[string]sample, error) {
	points, err := r.cfg.Client.Query(context.Background(), tenant, q, t)
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
