package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/vmclient"
)

// replayMargin is how far before a snapshot's watermark the replay starts:
// it covers blocks that came reordered.
const replayMargin = 10 * time.Minute

// replayGap reads back from VictoriaMetrics what slogate acknowledged after
// its snapshot: for the routes of the snapshot from its watermark minus
// replayMargin, and for the journaled routes no snapshot holds from their
// first event (each counts from there exactly as it counted live: its first
// sample is a baseline or counted in full by the same rule). Only those
// routes: a sharded replica must not take over its peers' routes. Samples
// at or before a series' last point count zero, so the overlap is
// harmless.
func replayGap(ctx context.Context, log *slog.Logger, e *budget.Engine, c *vmclient.Client, journaled []budget.NewRoute) error {
	// Watermarks before anything is replayed: the replay moves them.
	snapFrom := map[budget.Tenant]int64{}
	for _, t := range e.Tenants() {
		snapFrom[t] = e.Watermark(t) - replayMargin.Milliseconds()
	}
	// first[t][key] is the first event of a journaled route the snapshot
	// does not hold.
	first := map[budget.Tenant]map[string]int64{}
	for _, r := range journaled {
		if e.HasRoute(r.Tenant, r.Source, r.Labels) {
			continue
		}
		if first[r.Tenant] == nil {
			first[r.Tenant] = map[string]int64{}
		}
		if f, ok := first[r.Tenant][r.Key()]; !ok || r.First < f {
			first[r.Tenant][r.Key()] = r.First
		}
	}
	log.Info("route journal read", "routes", len(journaled), "replayed_from_first_event", countRoutes(first))
	tenants := make([]budget.Tenant, 0, len(snapFrom)+len(first))
	for t := range snapFrom {
		tenants = append(tenants, t)
	}
	for t := range first {
		if _, ok := snapFrom[t]; !ok {
			tenants = append(tenants, t)
		}
	}
	slices.SortFunc(tenants, func(a, b budget.Tenant) int {
		return cmp.Or(cmp.Compare(a.AccountID, b.AccountID), cmp.Compare(a.ProjectID, b.ProjectID))
	})
	from := func(t budget.Tenant) int64 {
		f, ok := snapFrom[t]
		if !ok {
			f = math.MaxInt64
		}
		for _, v := range first[t] {
			f = min(f, v)
		}
		return f
	}
	ingest := func(t budget.Tenant) func([]budget.Label, []budget.Sample) {
		var keys []string
		var kept []budget.Sample
		return func(labels []budget.Label, samples []budget.Sample) {
			start, ok := int64(math.MaxInt64), false
			keys = e.RouteKeys(keys[:0], labels)
			for _, k := range keys {
				if f, found := first[t][k]; found {
					start, ok = min(start, f), true
				}
			}
			if !ok {
				// The journaled routes came first: a route the replay
				// re-created is known now, but not from the snapshot.
				if start, ok = snapFrom[t]; !ok || !e.KnowsRoute(t, labels) {
					return
				}
			}
			kept = kept[:0]
			for _, s := range samples {
				if s.Timestamp >= start {
					kept = append(kept, s)
				}
			}
			e.Ingest(t, labels, kept)
		}
	}
	return replay(ctx, log, e, c, tenants, from, ingest)
}

// countRoutes counts the routes of every tenant.
func countRoutes(m map[budget.Tenant]map[string]int64) int {
	n := 0
	for _, r := range m {
		n += len(r)
	}
	return n
}

// backfill replays the SLI history of the last window (every tenant of a
// cluster) on a first start with -backfill.
func backfill(ctx context.Context, log *slog.Logger, e *budget.Engine, c *vmclient.Client, window time.Duration) error {
	from := time.Now().Add(-window).UnixMilli()
	tenants, err := c.Tenants(ctx, from, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("cannot backfill: %w", err)
	}
	log.Info("backfill: replaying SLI history from VictoriaMetrics", "from", time.UnixMilli(from).UTC(), "tenants", len(tenants))
	ingest := func(t budget.Tenant) func([]budget.Label, []budget.Sample) {
		return func(labels []budget.Label, samples []budget.Sample) { e.Ingest(t, labels, samples) }
	}
	return replay(ctx, log, e, c, tenants, func(budget.Tenant) int64 { return from }, ingest)
}

// replay exports the SLI series of each tenant from from(t) on and hands
// them to ingest(t), before slogate counts new writes. It retries until
// VictoriaMetrics answers or ctx ends: counting new writes on top of a gap
// would attribute the gap's requests to the wrong minutes.
func replay(ctx context.Context, log *slog.Logger, e *budget.Engine, c *vmclient.Client, tenants []budget.Tenant,
	from func(budget.Tenant) int64, ingest func(budget.Tenant) func([]budget.Label, []budget.Sample)) error {
	if len(tenants) == 0 {
		return nil
	}
	// What VictoriaMetrics accepted just before a crash must be searchable.
	c.Flush(ctx)
	metrics := e.Metrics()
	for _, t := range tenants {
		start := from(t)
		end := time.Now().Add(10 * time.Minute).UnixMilli()
		for attempt := 0; ; attempt++ {
			began := time.Now()
			st, err := c.Export(ctx, t, metrics, start, end, ingest(t))
			if err == nil {
				log.Info("replayed SLI series from VictoriaMetrics", "tenant", t.String(),
					"from", time.UnixMilli(start).UTC(), "series", st.Series, "samples", st.Samples, "took", time.Since(began).Round(time.Millisecond))
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			wait := min(time.Duration(attempt+1)*time.Second, 30*time.Second)
			log.Warn("cannot replay SLI series yet; retrying", "err", err, "in", wait)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
	}
	return nil
}
