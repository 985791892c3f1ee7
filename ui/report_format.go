package ui

import (
	"encoding/csv"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"
)

// reportCSVHeader is the CSV report's header row; one row per service SLI
// follows (service set, route empty), then one per route (service empty).
// Ratios are ratios (0.9995), times are seconds, label sets are
// name=value pairs joined by ";", maintenance is "id start/end reason"
// items joined by "; ", credits "below:percent" items joined by ";".
// Cells without a value (an availability without events, the slice
// columns of occurrences objectives, the credit without tiers) are empty.
var reportCSVHeader = []string{
	"period", "tenant", "customer", "contract", "service", "service_labels", "route", "source", "objective", "timezone",
	"start", "end", "until", "complete", "requests", "bad", "excluded", "availability",
	"budgeting", "slice_seconds", "slice_target", "slices_good", "slices_bad", "slices_excluded", "slices_total", "good_slice_ratio",
	"target_kind", "target", "status", "judged_seconds", "allowed_seconds", "used_seconds", "credits", "credit_percent", "maintenance",
}

func writeReportCSV(w io.Writer, rep *ReportJSON) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(reportCSVHeader); err != nil {
		return err
	}
	for _, s := range rep.Services {
		if err := cw.Write(csvRow(rep, s.Labels["customer"], "", s.Service, pairs(s.Labels), "", "", &s.ReportFigures)); err != nil {
			return err
		}
	}
	for _, c := range rep.Contracts {
		for _, r := range c.Routes {
			if err := cw.Write(csvRow(rep, c.Customer, pairs(c.Contract), "", "", r.Route, r.Source, &r.ReportFigures)); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvRow is one row of the CSV report. Text cells may hold label values
// and reasons of anyone who can write metrics or windows: escaped.
// Numbers are slogate's.
func csvRow(rep *ReportJSON, customer, contract, service, serviceLabels, route, source string, f *ReportFigures) []string {
	var mw []string
	for _, m := range f.Maintenance {
		mw = append(mw, m.ID+" "+m.Start+"/"+m.End+" "+m.Reason)
	}
	var credits []string
	for _, c := range f.Credits {
		credits = append(credits, ratio(c.Below)+":"+ratio(c.Percent))
	}
	slice := make([]string, 7)
	if f.Slices != nil {
		slice = []string{seconds(f.SliceSeconds), ratio(f.SliceTarget), strconv.FormatUint(f.Slices.Good, 10), strconv.FormatUint(f.Slices.Bad, 10),
			strconv.FormatUint(f.Slices.Excluded, 10), strconv.FormatUint(f.Slices.Total, 10), optRatio(f.GoodSliceRatio)}
	}
	row := []string{
		cell(rep.Period), cell(rep.Tenant), cell(customer), cell(contract), cell(service), cell(serviceLabels), cell(route), cell(source), cell(f.Objective), cell(f.Timezone),
		cell(f.Start), cell(f.End), cell(f.Until), strconv.FormatBool(f.Complete),
		strconv.FormatUint(f.Requests, 10), strconv.FormatUint(f.Bad, 10), strconv.FormatUint(f.Excluded, 10), optRatio(f.Availability),
		cell(f.Budgeting),
	}
	row = append(row, slice...)
	return append(row,
		cell(f.TargetKind), ratio(f.Target), cell(f.Status), seconds(f.JudgedSeconds), seconds(f.AllowedSeconds), seconds(f.UsedSeconds),
		strings.Join(credits, ";"), optRatio(f.CreditPercent), cell(strings.Join(mw, "; ")))
}

// pairs is a label set as name=value pairs joined by ";", sorted by name.
func pairs(m map[string]string) string {
	var out []string
	for _, k := range sortedKeys(m) {
		out = append(out, k+"="+m[k])
	}
	return strings.Join(out, ";")
}

func optRatio(v *float64) string {
	if v == nil {
		return ""
	}
	return ratio(*v)
}

// cell escapes a text cell against formula injection (OWASP "CSV
// Injection"): a spreadsheet evaluates a cell starting with =, +, -, @,
// tab or carriage return as a formula, also one pasted from the HTML
// report, so such a cell gets a leading single quote, which spreadsheets
// show as text and do not evaluate.
func cell(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

func ratio(v float64) string   { return strconv.FormatFloat(v, 'f', -1, 64) }
func seconds(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// reportView is what report.html renders.
type reportView struct {
	*ReportJSON
	// Title names the period: November 2026, Q4 2026, 2026.
	Title string
}

// parseReportHTML parses the embedded HTML report template.
func parseReportHTML() (*template.Template, error) {
	return template.New("report.html").Funcs(template.FuncMap{
		"duration": fmtSeconds,
		"percent": func(f ReportFigures) string {
			if f.Compliance == nil {
				if f.Slices != nil {
					return "no slices"
				}
				return "no requests"
			}
			if f.Slices != nil {
				return fmtAvailability(*f.Compliance, targetDecimals(f.Target)) + " of slices"
			}
			return fmtAvailability(*f.Compliance, targetDecimals(f.Target))
		},
		"ratio":  func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) },
		"target": fmtTarget,
		"upper":  strings.ToUpper,
		"time":   fmtRFC3339,
		"cell":   cell,
		"pairs":  func(m map[string]string) string { return cell(strings.ReplaceAll(pairs(m), ";", " · ")) },
	}).ParseFS(assetFiles, "assets/report.html")
}

func writeReportHTML(w io.Writer, tmpl *template.Template, rep *ReportJSON) error {
	v := reportView{ReportJSON: rep, Title: rep.Period}
	switch rep.PeriodKind {
	case "month":
		if t, err := time.Parse("2006-01", rep.Period); err == nil {
			v.Title = t.Format("January 2006")
		}
	case "quarter":
		if y, q, ok := strings.Cut(rep.Period, "-"); ok {
			v.Title = q + " " + y
		}
	}
	return tmpl.Execute(w, v)
}
