package synthetic

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/remotewrite"
	"github.com/slogate/slogate/slo"
)

// Sloth-compatible series (-compat.sloth). Sloth (github.com/slok/sloth)
// generates Prometheus recording rules whose results many dashboards and
// alert rules read; with Renderer.Sloth set, slogate writes the same series
// from its exact counts, so those keep working without Sloth's rules.
//
// Names and labels follow Sloth's internal/prometheus/recording_rules.go and
// conventions.go:
//
//	slo:sli_error:ratio_rate<w>{sloth_window="<w>"}  error ratio, w in 5m 30m 1h 2h 6h 1d 3d and the period (30d)
//	slo:objective:ratio                              objective, e.g. 0.999
//	slo:error_budget:ratio                           1 - objective
//	slo:time_period:days                             compliance window in days
//	slo:current_burn_rate:ratio{sloth_window="5m"}   5m error ratio / error budget
//	slo:period_burn_rate:ratio{sloth_window="30d"}   period error ratio / error budget
//	slo:period_error_budget_remaining:ratio{sloth_window="30d"}  1 - period burn rate
//	sloth_slo_info{sloth_objective="99.9",sloth_mode="slogate",sloth_spec="prometheus/v1",sloth_version=...}  1
//
// The burn rates and the remaining budget keep the sloth_window of the
// ratio they divide, as the results of Sloth's rules do (Sloth's
// expressions carry it through). Every series carries sloth_service,
// sloth_slo and sloth_id, the extra labels of SlothNames, plus all of
// slogate's own labels (slo, route, source, the route's identity labels
// and the contract labels; for a service slo, service and its By labels),
// the way Sloth adds an SLO's user labels. Mapping (SlothNames at its zero
// value; its templates choose otherwise):
//
//	sloth_service = route           e.g. "shop/web/shop.example.com//"
//	              or service name   e.g. "platform"
//	sloth_slo     = objective name  e.g. "availability"
//	sloth_id      = "<sloth_service>-<sloth_slo>", Sloth's "<service>-<slo>"
//
// (The SLIs of one service differ by their By labels, not by sloth_id.)
//
// Only the internal objective (SLO) is mapped: Sloth has one objective per
// SLO and no notion of a contractual one; the SLA stays in slo_*{kind="sla"}.
//
// Differences from Sloth's rules, all on purpose:
//   - Values are exact event counts over complete minutes, not rate()
//     extrapolations; the period ratio is exact, not Sloth's average of 5m
//     ratios.
//   - A time-slice objective's ratios are of slices (bad/judged slices),
//     as its slo_* series are.
//   - A ratio of a window without events is absent (Sloth's 0/0 is NaN), and
//     so is a burn rate derived from it; the remaining budget is then 1.
//   - Window names are Prometheus durations as Sloth writes them (30d, but
//     28d is "4w"). A calendar compliance window (week, month, quarter,
//     year) has no Sloth name: its ratio series is not written, the period
//     burn rate and remaining budget are (sloth_window is the period's
//     name: month, year...), and slo:time_period:days is the current
//     period's length (fractional across a DST change).

// slothRateNames are Sloth's error-ratio metric names of the short windows,
// in slo.ShortWindows order (their names are already Prometheus
// durations).
var slothRateNames = func() (names [len(slo.ShortWindows)]string) {
	for i, w := range slo.ShortWindows {
		names[i] = slothRatePrefix + w.Name
	}
	return names
}()

const slothRatePrefix = "slo:sli_error:ratio_rate"

// SlothNames chooses the sloth_service and sloth_slo of the Sloth series
// and the extra labels they carry (config's sloth block). The zero value
// names them as before: sloth_service = route or service name, sloth_slo =
// objective name, no extra labels.
type SlothNames struct {
	// Service and SLO are templates: text with {label} placeholders
	// replaced by the value of a label of the route (its identity and
	// contract labels, route, source, slo) or of the service SLI (service,
	// slo, its By labels); an absent label is "". "" (or a template that
	// expands to "") means the default.
	Service, SLO string
	// Labels are added to every Sloth series, the way a Sloth spec's
	// labels are; one a series already carries is not added again.
	Labels []remotewrite.Label
	// Version is the sloth_version of sloth_slo_info (slogate's version).
	Version string
}

// SlothSpec is the sloth_spec of sloth_slo_info: the spec version whose
// rules the series stand in for.
const SlothSpec = "prometheus/v1"

// expand replaces the {label} placeholders of tmpl with the values of
// labels; it allocates (compat mode only).
func expand(tmpl string, labels []remotewrite.Label) string {
	var b []byte
	for {
		i := strings.IndexByte(tmpl, '{')
		j := strings.IndexByte(tmpl[i+1:], '}')
		if i < 0 || j < 0 {
			return string(append(b, tmpl...))
		}
		b = append(b, tmpl[:i]...)
		name := tmpl[i+1 : i+1+j]
		for _, l := range labels {
			if l.Name == name {
				b = append(b, l.Value...)
				break
			}
		}
		tmpl = tmpl[i+2+j:]
	}
}

// sloth writes the Sloth-compatible series of one route or service
// (sloth_service = name unless names say otherwise; sloth_slo = the
// objective's name, followed for a service SLI by the values of its By
// labels, so that each SLI has its own sloth_id). It runs after route or
// service, whose base labels are still in w.labels[:w.nbase]. It
// allocates the sloth_id and objective strings (compat mode only).
func (w *seriesWriter) sloth(names *SlothNames, name string, by []budget.Label, obj *budget.Objective, windows *[slo.NumWindows]slo.WindowStatus, sloBudget *slo.BudgetStatus) {
	o := obj.SLO
	service, sloName := name, obj.Name
	for _, l := range by {
		sloName += "-" + l.Value
	}
	if names.Service != "" {
		if s := expand(names.Service, w.labels[1:w.nbase]); s != "" {
			service = s
		}
	}
	if names.SLO != "" {
		if s := expand(names.SLO, w.labels[1:w.nbase]); s != "" {
			sloName = s
		}
	}
	w.labels = w.labels[:w.nbase]
	for _, l := range names.Labels {
		if !slices.ContainsFunc(w.labels[1:w.nbase], func(b remotewrite.Label) bool { return b.Name == l.Name }) {
			w.labels = append(w.labels, l)
		}
	}
	w.labels = append(w.labels,
		remotewrite.Label{Name: "sloth_id", Value: service + "-" + sloName},
		remotewrite.Label{Name: "sloth_service", Value: service},
		remotewrite.Label{Name: "sloth_slo", Value: sloName})
	w.nbase = len(w.labels)

	for i, metric := range slothRateNames {
		if win := &windows[i]; win.Total > 0 {
			w.emit(metric, "sloth_window", win.Name, errorRatio(win))
		}
	}
	period := &windows[slo.WindowCompliance]
	// Sloth's burn rates and remaining budget keep the sloth_window of the
	// ratio they divide: 5m, and the period's (e.g. 30d). A calendar period
	// has no Prometheus duration: its name (month, ...) stands in.
	periodName, ok := promDuration(obj.Window)
	if ok && period.Total > 0 {
		w.emit(slothRatePrefix+periodName, "sloth_window", periodName, errorRatio(period))
	}
	if !ok {
		periodName = obj.Window.Label()
	}

	w.emit("slo:objective:ratio", "", "", o)
	w.emit("slo:error_budget:ratio", "", "", 1-o)
	days := obj.Window.LengthAt(time.UnixMilli(w.ts)).Hours() / 24
	w.emit("slo:time_period:days", "", "", days)
	if w5 := &windows[slo.Window5m]; w5.Total > 0 {
		w.emit("slo:current_burn_rate:ratio", "sloth_window", w5.Name, w5.BurnRate)
	}
	if period.Total > 0 {
		w.emit("slo:period_burn_rate:ratio", "sloth_window", periodName, period.BurnRate)
	}
	w.emit("slo:period_error_budget_remaining:ratio", "sloth_window", periodName, sloBudget.RemainingRatio)

	// Sloth writes the objective as the percent of its spec ("99.9");
	// 12 significant digits turn 0.999*100 = 99.89999999999999 back into it.
	w.labels = append(w.labels[:w.nbase],
		remotewrite.Label{Name: "sloth_mode", Value: "slogate"},
		remotewrite.Label{Name: "sloth_spec", Value: SlothSpec},
		remotewrite.Label{Name: "sloth_version", Value: names.Version})
	w.nbase = len(w.labels)
	w.emit("sloth_slo_info", "sloth_objective", strconv.FormatFloat(o*100, 'g', 12, 64), 1)
}

// errorRatio is bad/total of a window with events, computed from the counts
// (1 - SLI could differ in the last bit).
func errorRatio(win *slo.WindowStatus) float64 {
	return float64(win.Total-win.Good) / float64(win.Total)
}

// promDuration formats a rolling window as Prometheus (and so Sloth) writes
// a duration: the largest units first, years and weeks only when they divide
// it exactly (30d, 4w, 1d12h). Calendar windows have none.
func promDuration(w slo.Window) (string, bool) {
	if w.Kind != slo.Rolling || w.Length <= 0 {
		return "", false
	}
	const day = 24 * time.Hour
	d := w.Length
	var b []byte
	for _, u := range [...]struct {
		unit  string
		size  time.Duration
		exact bool
	}{{"y", 365 * day, true}, {"w", 7 * day, true}, {"d", day, false}, {"h", time.Hour, false}, {"m", time.Minute, false}, {"s", time.Second, false}} {
		if u.exact && d%u.size != 0 {
			continue
		}
		if n := d / u.size; n > 0 {
			b = strconv.AppendInt(b, int64(n), 10)
			b = append(b, u.unit...)
			d -= n * u.size
		}
	}
	return string(b), len(b) > 0
}
