// Package budget is slogate's counting engine: SLI sources, route
// discovery, counter deltas in event-time minute and hour buckets, the
// routes' objectives (SLO and SLA), their windows and budgets evaluated with
// package slo's math, release state, maintenance masks applied by minute,
// and the engine's state encoding.
//
// It is pure: the clock is injected and every input arrives as a value.
// It must not import os, io/fs, path/filepath, net or anything that speaks
// HTTP or YAML (TestPure checks it): files belong to package store, the
// configuration file to package config, the wire to package remotewrite,
// whose Label and Sample types it shares. Its counts live outside the Go
// heap, in memory that package internal/arena maps (memory, not IO).
package budget

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/slogate/slogate/remotewrite"
	"github.com/slogate/slogate/slo"
)

// Tenant identifies a VictoriaMetrics tenant (accountID:projectID). The zero
// value is the single-node tenant. State and synthetic series never cross
// tenants.
type Tenant struct {
	AccountID uint32
	ProjectID uint32
}

// String is the tenant as VictoriaMetrics writes it: accountID:projectID.
func (t Tenant) String() string {
	return strconv.FormatUint(uint64(t.AccountID), 10) + ":" + strconv.FormatUint(uint64(t.ProjectID), 10)
}

// ParseTenant parses a VictoriaMetrics cluster tenant: accountID[:projectID],
// each a 32-bit unsigned number.
func ParseTenant(b []byte) (Tenant, error) {
	acc, proj, hasProj := bytes.Cut(b, []byte(":"))
	a, err := strconv.ParseUint(string(acc), 10, 32)
	if err != nil {
		return Tenant{}, fmt.Errorf("cannot parse tenant %q: accountID must be a 32-bit unsigned number", b)
	}
	var p uint64
	if hasProj {
		if p, err = strconv.ParseUint(string(proj), 10, 32); err != nil {
			return Tenant{}, fmt.Errorf("cannot parse tenant %q: projectID must be a 32-bit unsigned number", b)
		}
	}
	return Tenant{AccountID: uint32(a), ProjectID: uint32(p)}, nil
}

// Label and Sample are the wire's types (package remotewrite): a decoded
// series reaches Ingest without a copy. In Ingest the strings may point into
// a pooled buffer that is reused after Ingest returns: anything kept must be
// copied with strings.Clone.
type (
	Label  = remotewrite.Label
	Sample = remotewrite.Sample
)

// SLIKind says how a source's series turn into good and total events.
type SLIKind uint8

const (
	// Availability: each series is a request counter with a status label;
	// its increments are bad when the status matches Source.Bad, else good.
	Availability SLIKind = iota
	// Latency: the source metric is a histogram _bucket counter; increments
	// of the bucket le=Source.LE are good, increments of le="+Inf" are total.
	Latency
)

func (k SLIKind) String() string {
	if k == Latency {
		return "latency"
	}
	return "availability"
}

// Source describes where an SLI comes from: which series, how they map to a
// route, and which events are bad.
type Source struct {
	// Name identifies the source, e.g. "ingress-nginx"; it is the value of
	// the synthetic label `source`.
	Name string
	// Kind is Availability or Latency.
	Kind SLIKind
	// Metric is the metric name (__name__) the source reads.
	Metric string
	// RouteLabels are the labels whose values identify a route, in order.
	// Series that differ only in other labels (pod, instance, method) are
	// summed into the same route.
	RouteLabels []string
	// Filter holds anchored regular expressions a series' labels must match
	// to be counted, e.g. reporter="destination" for Istio. A label that is
	// absent matches as the empty string.
	Filter map[string]*regexp.Regexp
	// StatusLabel is the label holding the response status (Availability).
	StatusLabel string
	// Bad matches the StatusLabel values that count as bad (Availability).
	// It is anchored: "5.." matches "503" but not "1503".
	Bad *regexp.Regexp
	// LE is the histogram bucket boundary of a Latency source, e.g. 0.5:
	// requests answered within LE seconds are good.
	LE float64
	// MaxRoutes caps the routes per tenant this source tracks; routes over
	// the cap are refused and counted in a self-metric. Zero means 10,000.
	MaxRoutes int
}

// Objective is what a route is held to. Targets are ratios (0.999), never
// percents.
type Objective struct {
	// Name is the value of the synthetic label `slo`, e.g. "availability".
	Name string
	// SLO is the internal objective, e.g. 0.9995.
	SLO float64
	// SLA is the customer's contractual objective; zero means no SLA.
	SLA float64
	// Window is the compliance window of both targets.
	Window slo.Window
	// Contract labels (customer, contract, ...) added to every synthetic
	// series of the routes this objective applies to.
	Contract []Label
	// Slices turns on time-slice budgeting (package slo, slices.go); the
	// zero value is occurrences budgeting.
	Slices slo.Slices
	// Credits are the service-credit tiers of the SLA, checked against
	// the compliance window's SLA availability (or good-slice ratio).
	Credits []slo.Credit
}

// DefaultObjective is what a route gets when no objective rule matches it:
// SLO 0.999 over a rolling 30-day window, no SLA, named after the SLI kind
// ("availability" or "latency").
func DefaultObjective(src *Source) Objective {
	return Objective{
		Name:   src.Kind.String(),
		SLO:    0.999,
		Window: slo.Window{Kind: slo.Rolling, Length: 30 * 24 * time.Hour},
	}
}

// Interval is a half-open time range [Start, End) in Unix milliseconds.
type Interval struct {
	Start, End int64
}

// Minutes returns the minutes [from, to) (Unix minutes) that the interval
// masks: a minute is masked when its start lies inside [Start, End).
func (iv Interval) Minutes() (from, to int64) {
	return ceilDiv64(iv.Start, minuteMs), ceilDiv64(iv.End, minuteMs)
}

// Mask is a maintenance window as the engine sees it. Events of a matched
// route are excluded at minute resolution: a minute is excluded when its
// start lies inside one of the window's intervals.
type Mask interface {
	// Matches reports whether the window applies to a route, given the
	// route's identity labels, its contract labels and the label `source`.
	Matches(labels []Label) bool
	// AppendIntervals appends to dst the window's intervals that overlap
	// [from, to) (Unix ms), in ascending order, and returns dst.
	AppendIntervals(dst []Interval, from, to int64) []Interval
}
