package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/proxy"
	"github.com/slogate/slogate/store"
)

const snapshotName = "engine.snapshot"

// stateKeeper snapshots the engine under -stateDir and brings it back.
type stateKeeper struct {
	engine *budget.Engine
	path   string
	log    *slog.Logger
}

func newStateKeeper(e *budget.Engine, dir string, log *slog.Logger) *stateKeeper {
	return &stateKeeper{engine: e, path: filepath.Join(dir, snapshotName), log: log}
}

// load restores the last snapshot. A missing snapshot is a first start; a
// corrupt one is reported, set aside, and slogate starts empty: it must
// never crash on its own state.
func (k *stateKeeper) load() (bool, error) {
	payload, err := store.ReadSnapshot(k.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		k.log.Info("no state snapshot: first start", "path", k.path)
		return false, nil
	case err == nil:
		err = k.engine.LoadState(payload)
		if err == nil {
			k.log.Info("state restored", "path", k.path, "bytes", len(payload))
			return true, nil
		}
		err = fmt.Errorf("%w: %w", store.ErrCorruptSnapshot, err)
	}
	if !errors.Is(err, store.ErrCorruptSnapshot) {
		return false, fmt.Errorf("cannot read state snapshot: %w", err)
	}
	name, serr := store.SetAside(k.path, time.Now())
	if serr != nil {
		return false, serr
	}
	k.log.Error("state snapshot is corrupt; set aside, starting empty", "err", err, "moved_to", name)
	return false, nil
}

// save writes a snapshot atomically.
func (k *stateKeeper) save() error {
	start := time.Now()
	payload, err := k.engine.AppendState(nil)
	if err != nil {
		return fmt.Errorf("cannot encode state: %w", err)
	}
	if err := store.WriteSnapshot(k.path, payload); err != nil {
		return err
	}
	k.log.Debug("state snapshot written", "bytes", len(payload), "took", time.Since(start))
	return nil
}

// run snapshots every interval until ctx ends.
func (k *stateKeeper) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := k.save(); err != nil {
				k.log.Error("cannot snapshot state", "err", err)
			}
		}
	}
}

// replayGap reads back from VictoriaMetrics what slogate acknowledged
// after its snapshot (or, for a backfill, the whole window), before it
// counts new writes. It retries until VictoriaMetrics answers or ctx ends:
// counting new writes on top of a gap would attribute the gap's requests to
// the wrong minutes.
func replayGap(ctx context.Context, log *slog.Logger, e *budget.Engine, r *proxy.Replayer, tenants []budget.Tenant, from func(budget.Tenant) int64) error {
	metrics := e.Metrics()
	for _, t := range tenants {
		start := from(t)
		end := time.Now().Add(10 * time.Minute).UnixMilli()
		for attempt := 0; ; attempt++ {
			began := time.Now()
			st, err := r.Replay(ctx, t, metrics, start, end)
			if err == nil {
				log.Info("replayed SLI series from VictoriaMetrics", "tenant", fmt.Sprintf("%d:%d", t.AccountID, t.ProjectID),
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
