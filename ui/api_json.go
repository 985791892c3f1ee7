package ui

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/slo"
)

// The hand-written encoder of GET /slogate/api/v1/slos: it appends the
// same document, byte for byte, as encoding/json with two-space indent
// writes for SLOsJSON (api.go), without building those values: field
// order, null and omitempty, sorted map keys, number format and string
// escaping as encoding/json has them. TestSLOsEncoder holds the two
// together; a field added to the types of api.go is added here too.
//
//	{
//	  "slos": [ {SLOStatus}, ... ],
//	  "services": [ {ServiceJSON}, ... ]
//	}

// indent is the indentation of the deepest level (5: a window's fields).
const indent = "            "

// appendKey appends a field name at nesting level lvl (two spaces each),
// after a comma unless it is the object's first.
func appendKey(dst []byte, lvl int, name string, first bool) []byte {
	if !first {
		dst = append(dst, ',')
	}
	dst = append(dst, '\n')
	dst = append(dst, indent[:2*lvl]...)
	dst = append(dst, '"')
	dst = append(dst, name...)
	return append(dst, `": `...)
}

// appendClose closes an object or array whose fields are at level lvl+1.
func appendClose(dst []byte, lvl int, c byte) []byte {
	dst = append(dst, '\n')
	dst = append(dst, indent[:2*lvl]...)
	return append(dst, c)
}

// appendRouteJSON appends st as an element of "slos" (level 2); evaluatedAt
// is the quoted RFC 3339 eval time, at in Unix ms. order is scratch for
// sorting label names, returned for reuse.
func appendRouteJSON(dst []byte, st *budget.RouteStatus, at int64, evaluatedAt []byte, order []int) ([]byte, []int) {
	dst = append(dst, '{')
	dst = appendKey(dst, 3, "tenant", true)
	dst = appendTenant(dst, st.Tenant)
	dst = appendKey(dst, 3, "source", false)
	dst = appendString(dst, st.Source)
	dst = appendKey(dst, 3, "route", false)
	dst = appendString(dst, st.Route)
	dst = appendKey(dst, 3, "labels", false)
	if len(st.Labels) == 0 {
		dst = append(dst, "null"...) // labelMap's nil map
	} else {
		dst, order = appendLabels(dst, 3, st.Labels, order)
	}
	if len(st.Objective.Contract) > 0 { // omitempty
		dst = appendKey(dst, 3, "contract", false)
		dst, order = appendLabels(dst, 3, st.Objective.Contract, order)
	}
	dst = appendKey(dst, 3, "objective", false)
	dst = appendObjective(dst, &st.Objective, at)
	dst = appendRequests(dst, evaluatedAt, &st.Windows, st.Good, st.Bad)
	dst = appendUintField(dst, 4, "excludedGood", st.ExcludedGood, false)
	dst = appendUintField(dst, 4, "excludedBad", st.ExcludedBad, false)
	dst = appendClose(dst, 3, '}')
	dst = appendStatusTail(dst, &st.Objective, &st.Windows, &st.SLO, &st.SLA, st.HasSLA, st.MaintenanceActive, st.Release,
		st.Slices, st.WindowSlices, st.CreditPercent, st.HasCredit)
	return appendClose(dst, 2, '}'), order
}

// appendServiceJSON appends st as an element of "services" (level 2), as
// appendRouteJSON does a route.
func appendServiceJSON(dst []byte, st *budget.ServiceStatus, at int64, evaluatedAt []byte, order []int) ([]byte, []int) {
	dst = append(dst, '{')
	dst = appendKey(dst, 3, "tenant", true)
	dst = appendTenant(dst, st.Tenant)
	dst = appendKey(dst, 3, "service", false)
	dst = appendString(dst, st.Service)
	dst = appendKey(dst, 3, "by", false)
	if len(st.Labels) == 0 {
		dst = append(dst, "[]"...)
	} else {
		dst = append(dst, '[')
		for i := range st.Labels {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '\n')
			dst = append(dst, indent[:8]...)
			dst = appendString(dst, st.Labels[i].Name)
		}
		dst = appendClose(dst, 3, ']')
	}
	dst = appendKey(dst, 3, "labels", false)
	if len(st.Labels) == 0 {
		dst = append(dst, "{}"...) // an empty map, not nil
	} else {
		dst, order = appendLabels(dst, 3, st.Labels, order)
	}
	dst = appendKey(dst, 3, "objective", false)
	dst = appendObjective(dst, &st.Objective, at)
	dst = appendKey(dst, 3, "routes", false)
	dst = strconv.AppendInt(dst, int64(st.Routes), 10)
	dst = appendRequests(dst, evaluatedAt, &st.Windows, st.Good, st.Bad)
	dst = appendClose(dst, 3, '}')
	dst = appendStatusTail(dst, &st.Objective, &st.Windows, &st.SLO, &st.SLA, st.HasSLA, st.MaintenanceActive, st.Release,
		st.Slices, st.WindowSlices, st.CreditPercent, st.HasCredit)
	return appendClose(dst, 2, '}'), order
}

// appendRequests appends the fields routes and services share from
// "evaluatedAt" on (level 3), up to the good and bad events of the open
// "requests" object, which the caller closes.
func appendRequests(dst, evaluatedAt []byte, ws *[slo.NumWindows]slo.WindowStatus, good, bad uint64) []byte {
	dst = appendKey(dst, 3, "evaluatedAt", false)
	dst = append(dst, evaluatedAt...)
	dst = appendKey(dst, 3, "availability", false)
	dst = appendAvailability(dst, ws)
	dst = appendKey(dst, 3, "requests", false)
	dst = append(dst, '{')
	dst = appendUintField(dst, 4, "good", good, true)
	return appendUintField(dst, 4, "bad", bad, false)
}

// appendStatusTail appends the fields routes and services share after
// "requests": windows to creditPercent (level 3).
func appendStatusTail(dst []byte, obj *budget.Objective, ws *[slo.NumWindows]slo.WindowStatus, sloB, slaB *slo.BudgetStatus, hasSLA, maint bool,
	release slo.ReleaseState, slices, windowSlices slo.SliceCounts, credit float64, hasCredit bool) []byte {
	dst = appendKey(dst, 3, "windows", false)
	dst = append(dst, '[')
	for i := range ws {
		w := &ws[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '\n')
		dst = append(dst, indent[:8]...)
		dst = append(dst, '{')
		dst = appendKey(dst, 5, "window", true)
		dst = appendString(dst, w.Name)
		dst = appendUintField(dst, 5, "good", w.Good, false)
		dst = appendUintField(dst, 5, "total", w.Total, false)
		dst = appendKey(dst, 5, "sli", false)
		if w.HasSLI {
			dst = appendFloat(dst, w.SLI)
		} else {
			dst = append(dst, "null"...)
		}
		dst = appendKey(dst, 5, "burnRate", false)
		dst = appendFloat(dst, finite(w.BurnRate))
		dst = appendClose(dst, 4, '}')
	}
	dst = appendClose(dst, 3, ']')

	// Budgets: a map, so its keys sorted: "sla" before "slo".
	dst = appendKey(dst, 3, "budgets", false)
	dst = append(dst, '{')
	used, sliced := 0.0, obj.Slices.Enabled()
	if sliced {
		used = float64(windowSlices.Bad) * obj.Slices.Length.Seconds() // as budgetsJSON
	}
	if hasSLA {
		dst = appendKey(dst, 4, "sla", true)
		dst = appendBudget(dst, slaB, sliced, used)
	}
	dst = appendKey(dst, 4, "slo", !hasSLA)
	dst = appendBudget(dst, sloB, sliced, used)
	dst = appendClose(dst, 3, '}')

	dst = appendKey(dst, 3, "maintenanceActive", false)
	dst = strconv.AppendBool(dst, maint)
	dst = appendKey(dst, 3, "releaseState", false)
	dst = appendString(dst, release.String())
	if sliced {
		dst = appendKey(dst, 3, "slices", false)
		dst = appendSliceCounts(dst, slices)
		dst = appendKey(dst, 3, "windowSlices", false)
		dst = appendSliceCounts(dst, windowSlices)
	}
	if hasCredit {
		dst = appendKey(dst, 3, "creditPercent", false)
		dst = appendFloat(dst, credit)
	}
	return dst
}

// appendObjective appends an ObjectiveJSON at level 3, as objectiveJSON
// builds it.
func appendObjective(dst []byte, obj *budget.Objective, at int64) []byte {
	t := time.UnixMilli(at)
	dst = append(dst, '{')
	dst = appendKey(dst, 4, "name", true)
	dst = appendString(dst, obj.Name)
	dst = appendKey(dst, 4, "slo", false)
	dst = appendFloat(dst, obj.SLO)
	if obj.SLA > 0 {
		dst = appendKey(dst, 4, "sla", false)
		dst = appendFloat(dst, obj.SLA)
	}
	dst = appendKey(dst, 4, "window", false)
	dst = appendWindowLabel(dst, obj.Window)
	dst = appendKey(dst, 4, "windowSeconds", false)
	dst = appendFloat(dst, obj.Window.LengthAt(t).Seconds())
	if w := obj.Window; w.Kind == slo.Calendar {
		_, end := w.Bounds(t)
		dst = appendKey(dst, 4, "periodEnd", false)
		dst = append(dst, '"')
		dst = end.UTC().AppendFormat(dst, time.RFC3339)
		dst = append(dst, '"')
	}
	dst = appendKey(dst, 4, "budgeting", false)
	if s := obj.Slices; s.Enabled() {
		dst = append(dst, `"timeslices"`...)
		if secs := s.Length.Seconds(); secs != 0 { // omitempty
			dst = appendKey(dst, 4, "sliceSeconds", false)
			dst = appendFloat(dst, secs)
		}
		dst = appendKey(dst, 4, "sliceTarget", false)
		dst = appendFloat(dst, s.Target)
		dst = appendKey(dst, 4, "emptySlices", false)
		if s.SkipEmpty {
			dst = append(dst, `"skip"`...)
		} else {
			dst = append(dst, `"good"`...)
		}
	} else {
		dst = append(dst, `"occurrences"`...)
	}
	if len(obj.Credits) > 0 { // omitempty
		dst = appendKey(dst, 4, "credits", false)
		dst = append(dst, '[')
		for i, c := range obj.Credits {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '\n')
			dst = append(dst, indent[:10]...)
			dst = append(dst, '{')
			dst = appendKey(dst, 6, "below", true)
			dst = appendFloat(dst, c.Below)
			dst = appendKey(dst, 6, "percent", false)
			dst = appendFloat(dst, c.Percent)
			dst = appendClose(dst, 5, '}')
		}
		dst = appendClose(dst, 4, ']')
	}
	return appendClose(dst, 3, '}')
}

// appendBudget appends a BudgetJ at level 4, as budgetJSON and
// budgetsJSON build it.
func appendBudget(dst []byte, b *slo.BudgetStatus, sliced bool, used float64) []byte {
	remaining := finite(b.RemainingSeconds)
	dst = append(dst, '{')
	dst = appendKey(dst, 5, "objective", true)
	dst = appendFloat(dst, b.Objective)
	dst = appendKey(dst, 5, "remainingRatio", false)
	dst = appendFloat(dst, finite(b.RemainingRatio))
	dst = appendKey(dst, 5, "remainingSeconds", false)
	dst = appendFloat(dst, remaining)
	dst = appendKey(dst, 5, "exhaustionSeconds", false)
	if b.HasExhaustion {
		dst = appendFloat(dst, finite(b.ExhaustionSeconds))
	} else {
		dst = append(dst, "null"...)
	}
	if sliced {
		dst = appendKey(dst, 5, "allowedDowntimeSeconds", false)
		dst = appendFloat(dst, finite(remaining+used))
		dst = appendKey(dst, 5, "usedDowntimeSeconds", false)
		dst = appendFloat(dst, used)
	}
	return appendClose(dst, 4, '}')
}

func appendSliceCounts(dst []byte, c slo.SliceCounts) []byte {
	dst = append(dst, '{')
	dst = appendUintField(dst, 4, "good", c.Good, true)
	dst = appendUintField(dst, 4, "bad", c.Bad, false)
	dst = appendUintField(dst, 4, "excluded", c.Excluded, false)
	return appendClose(dst, 3, '}')
}

// appendAvailability appends the compliance window's SLI, null without
// events.
func appendAvailability(dst []byte, ws *[slo.NumWindows]slo.WindowStatus) []byte {
	if w := &ws[len(ws)-1]; w.HasSLI {
		return appendFloat(dst, w.SLI)
	}
	return append(dst, "null"...)
}

func appendUintField(dst []byte, lvl int, name string, v uint64, first bool) []byte {
	dst = appendKey(dst, lvl, name, first)
	return strconv.AppendUint(dst, v, 10)
}

// appendTenant appends the quoted "accountID:projectID".
func appendTenant(dst []byte, t budget.Tenant) []byte {
	dst = append(dst, '"')
	dst = strconv.AppendUint(dst, uint64(t.AccountID), 10)
	dst = append(dst, ':')
	dst = strconv.AppendUint(dst, uint64(t.ProjectID), 10)
	return append(dst, '"')
}

// appendWindowLabel appends the quoted slo.Window.Label without
// allocating for calendar and whole-day windows.
func appendWindowLabel(dst []byte, w slo.Window) []byte {
	const day = 24 * time.Hour
	if w.Kind != slo.Calendar && w.Length > 0 && w.Length%day == 0 {
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, int64(w.Length/day), 10)
		return append(dst, `d"`...)
	}
	return appendString(dst, w.Label())
}

// appendLabels appends labels as the JSON object of a map (level lvl+1):
// names sorted, the last value of a repeated name. order is scratch,
// returned for reuse.
func appendLabels(dst []byte, lvl int, ls []budget.Label, order []int) ([]byte, []int) {
	order = order[:0]
	for i := range ls {
		// Insertion sort, stable: a handful of labels, no allocation.
		j := len(order)
		order = append(order, i)
		for ; j > 0 && ls[order[j-1]].Name > ls[i].Name; j-- {
			order[j] = order[j-1]
		}
		order[j] = i
	}
	dst = append(dst, '{')
	first := true
	for k, i := range order {
		if k+1 < len(order) && ls[order[k+1]].Name == ls[i].Name {
			continue // a map keeps the last value
		}
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, '\n')
		dst = append(dst, indent[:2*lvl+2]...)
		dst = appendString(dst, ls[i].Name)
		dst = append(dst, ": "...)
		dst = appendString(dst, ls[i].Value)
		first = false
	}
	return appendClose(dst, lvl, '}'), order
}

// appendFloat appends v as encoding/json does: the shortest
// representation, with an exponent below 1e-6 and from 1e21 on. JSON has
// no NaN or Inf: they are written as 0 (encoding/json fails on them).
func appendFloat(dst []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	format := byte('f')
	if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, v, format, -1, 64)
	if format == 'e' {
		// e-07 is written e-7, as encoding/json does.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// appendString appends s quoted as encoding/json does by default: <, >
// and & escaped for HTML, U+2028 and U+2029 escaped, invalid UTF-8
// replaced by U+FFFD.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
