package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/vmclient"
)

// replaySnapshotGap reads back from VictoriaMetrics what slogate
// acknowledged after its snapshot, for the routes of the snapshot only: a
// sharded replica must not take over its peers' routes. Samples at or
// before a series' last point count zero, so the overlap is harmless; ten
// minutes before the watermark cover reordered blocks.
func replaySnapshotGap(ctx context.Context, log *slog.Logger, e *budget.Engine, c *vmclient.Client) error {
	ingest := func(t budget.Tenant) func([]budget.Label, []budget.Sample) {
		return func(labels []budget.Label, samples []budget.Sample) {
			if e.KnowsRoute(t, labels) {
				e.Ingest(t, labels, samples)
			}
		}
	}
	from := func(t budget.Tenant) int64 { return e.Watermark(t) - (10 * time.Minute).Milliseconds() }
	return replay(ctx, log, e, c, e.Tenants(), from, ingest)
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
