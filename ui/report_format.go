package ui

import (
	"encoding/csv"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"
)

// reportCSVHeader is the CSV report's header row; one row per route
// follows. Ratios are ratios (0.9995), times are seconds, the contract is
// name=value pairs joined by ";", maintenance is "id start/end reason"
// items joined by "; ".
var reportCSVHeader = []string{
	"period", "customer", "contract", "route", "source", "objective", "timezone",
	"start", "end", "until", "complete", "requests", "bad", "excluded", "availability",
	"target_kind", "target", "status", "allowed_seconds", "used_seconds", "maintenance",
}

func writeReportCSV(w io.Writer, rep *ReportJSON) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(reportCSVHeader); err != nil {
		return err
	}
	for _, c := range rep.Contracts {
		var pairs []string
		for _, k := range sortedKeys(c.Contract) {
			pairs = append(pairs, k+"="+c.Contract[k])
		}
		for _, r := range c.Routes {
			avail := ""
			if r.Availability != nil {
				avail = ratio(*r.Availability)
			}
			var mw []string
			for _, m := range r.Maintenance {
				mw = append(mw, m.ID+" "+m.Start+"/"+m.End+" "+m.Reason)
			}
			// Text cells may hold label values and reasons of anyone who
			// can write metrics or windows: escaped. Numbers are slogate's.
			err := cw.Write([]string{
				cell(rep.Period), cell(c.Customer), cell(strings.Join(pairs, ";")), cell(r.Route), cell(r.Source), cell(r.Objective), cell(r.Timezone),
				cell(r.Start), cell(r.End), cell(r.Until), strconv.FormatBool(r.Complete),
				strconv.FormatUint(r.Requests, 10), strconv.FormatUint(r.Bad, 10), strconv.FormatUint(r.Excluded, 10), avail,
				cell(r.TargetKind), ratio(r.Target), cell(r.Status), seconds(r.AllowedSeconds), seconds(r.UsedSeconds), cell(strings.Join(mw, "; ")),
			})
			if err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
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
	Month string
}

// parseReportHTML parses the embedded HTML report template.
func parseReportHTML() (*template.Template, error) {
	return template.New("report.html").Funcs(template.FuncMap{
		"duration": fmtSeconds,
		"percent": func(r ReportRoute) string {
			if r.Availability == nil {
				return "no requests"
			}
			return fmtAvailability(*r.Availability, targetDecimals(r.Target))
		},
		"target": fmtTarget,
		"upper":  strings.ToUpper,
		"time":   fmtRFC3339,
		"cell":   cell,
	}).ParseFS(assetFiles, "assets/report.html")
}

func writeReportHTML(w io.Writer, tmpl *template.Template, rep *ReportJSON) error {
	v := reportView{ReportJSON: rep, Month: rep.Period}
	if t, err := time.Parse("2006-01", rep.Period); err == nil {
		v.Month = t.Format("January 2006")
	}
	return tmpl.Execute(w, v)
}
