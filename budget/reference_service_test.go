package budget

import (
	"fmt"
	"slices"
	"strings"
)

// The reference of services (aggregate objectives), brute force from the
// spec: a route belongs to every service whose Match accepts its identity
// labels, contract labels and source; its SLI is keyed by the values of By
// (identity labels, then contract labels, then `source`; absent = ""). A
// service minute sums its routes' good and total events of that minute
// that the route does not exclude; it is excluded (for slices) when every
// route of the SLI excludes it.

type refServiceSLI struct {
	svc    *Service
	labels []Label
	routes []*refRoute
}

// refServiceKey is a service SLI's key in the model: name, then the By
// values, separated by NUL bytes.
func refServiceKey(name string, labels []Label) string {
	parts := []string{name}
	for _, l := range labels {
		parts = append(parts, l.Value)
	}
	return strings.Join(parts, "\x00")
}

// refByValue looks a By label up as the spec says.
func refByValue(r *refRoute, name string) string {
	for _, ls := range [][]Label{r.labels, r.obj.Contract} {
		for _, l := range ls {
			if l.Name == name {
				return l.Value
			}
		}
	}
	if name == "source" {
		return r.src.Name
	}
	return ""
}

// evaluateServices computes every service SLI of tenant t at time at.
func (m *refModel) evaluateServices(t Tenant, at int64) map[string]ServiceStatus {
	services := m.services
	m.startAll(t, true)
	v := m.view(t, at)
	slis := map[string]*refServiceSLI{}
	for si := range services {
		svc := &services[si]
		for _, r := range v.routes {
			if !svc.Match.Match(r.labels, r.obj.Contract, r.src.Name) {
				continue
			}
			var labels []Label
			for _, name := range svc.By {
				labels = append(labels, Label{Name: name, Value: refByValue(r, name)})
			}
			key := refServiceKey(svc.Name, labels)
			if slis[key] == nil {
				slis[key] = &refServiceSLI{svc: svc, labels: labels}
			}
			slis[key].routes = append(slis[key].routes, r)
		}
	}
	out := map[string]ServiceStatus{}
	for key, s := range slis {
		out[key] = m.serviceStatus(v, s)
	}
	return out
}

func (m *refModel) serviceStatus(v *refView, s *refServiceSLI) ServiceStatus {
	obj := s.svc.Objective
	if obj.Name == "" {
		obj.Name = s.svc.Name
	}
	st := ServiceStatus{Tenant: v.t, Service: s.svc.Name, Labels: s.labels, Objective: obj, Routes: len(s.routes)}
	sli := &refSLI{obj: obj, cnt: map[int64][2]int64{}, first: m.first[v.t]["svc\x00"+refServiceKey(s.svc.Name, s.labels)]}
	for _, r := range s.routes {
		for mi, c := range r.cnt {
			sc := sli.cnt[mi]
			sli.cnt[mi] = [2]int64{sc[0] + c[0], sc[1] + c[1]}
		}
	}
	sli.origin = m.origin(sli.first, s.routes...)
	routes := slices.Clone(s.routes)
	sli.excl = func(mi int64) bool {
		for _, r := range routes {
			if !r.excl(mi) {
				return false
			}
		}
		return true
	}
	var g, n int64
	for mi, c := range sli.cnt {
		if mi < v.mT || mi < v.ringStart {
			g, n = g+c[0], n+c[1]
		}
	}
	st.Good, st.Bad = uint64(min(g, n)), uint64(n-min(g, n))
	res := refSLIStatus(sli, v.at, v.mT, v.ringStart)
	st.Windows, st.SLO, st.SLA, st.HasSLA, st.Release = res.windows, res.slo, res.sla, res.hasSLA, res.release
	st.Slices, st.WindowSlices, st.CreditPercent, st.HasCredit = res.slices, res.windowSlices, res.credit, res.hasCredit
	st.MaintenanceActive = true
	for _, r := range s.routes {
		st.MaintenanceActive = st.MaintenanceActive && activeAt(v.activeMasks, r.maskLabels, v.mT)
	}
	return st
}

// compareServiceStatus returns the differences between the engine's
// status of a service SLI and the reference's.
func compareServiceStatus(got, want ServiceStatus) []string {
	asRoute := func(s ServiceStatus) RouteStatus {
		return RouteStatus{Tenant: s.Tenant, Labels: s.Labels, Objective: s.Objective, Good: s.Good, Bad: s.Bad,
			Windows: s.Windows, SLO: s.SLO, SLA: s.SLA, HasSLA: s.HasSLA, MaintenanceActive: s.MaintenanceActive,
			Release: s.Release, Slices: s.Slices, WindowSlices: s.WindowSlices, CreditPercent: s.CreditPercent, HasCredit: s.HasCredit}
	}
	diffs := compareStatus(asRoute(got), asRoute(want))
	if got.Routes != want.Routes {
		diffs = append(diffs, fmt.Sprintf("routes: got %d, want %d", got.Routes, want.Routes))
	}
	if got.Service != want.Service {
		diffs = append(diffs, fmt.Sprintf("service: got %s, want %s", got.Service, want.Service))
	}
	return diffs
}
