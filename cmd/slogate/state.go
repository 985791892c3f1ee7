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
	"github.com/slogate/slogate/store"
)

// The files of the engine's state under -stateDir.
const (
	snapshotName = "engine.snapshot"
	journalName  = "routes.journal"
)

// stateKeeper snapshots the engine under -stateDir and brings it back.
type stateKeeper struct {
	engine *budget.Engine
	// journal, when set, is compacted after each snapshot: the routes the
	// snapshot holds need no record.
	journal *store.Journal
	path    string
	log     *slog.Logger
	metrics *opsMetrics
}

func newStateKeeper(e *budget.Engine, dir string, log *slog.Logger, m *opsMetrics) *stateKeeper {
	return &stateKeeper{engine: e, path: filepath.Join(dir, snapshotName), log: log, metrics: m}
}

// load restores the last snapshot. A missing snapshot is a first start; a
// corrupt one is reported, set aside, and slogate starts empty: it must
// never crash on its own state.
func (k *stateKeeper) load() (bool, error) {
	if err := store.RemoveTemps(k.path); err != nil { // of a write a crash cut short
		return false, err
	}
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

// save writes a snapshot atomically, then drops the journal records of the
// routes it holds, and counts it in the self-metrics.
func (k *stateKeeper) save() error {
	start := time.Now()
	size, err := k.write()
	k.metrics.snapshot(start, size, err)
	return err
}

func (k *stateKeeper) write() (int, error) {
	start := time.Now()
	var mark uint64
	if k.journal != nil {
		mark = k.journal.Mark() // before the state is read: see Mark
	}
	// The state goes to the file as it is encoded: at 20,000 routes it is
	// about 150 MB, which must not be in memory every -snapshot.interval.
	size, err := store.WriteSnapshotFrom(k.path, k.engine.WriteState)
	if err != nil {
		return 0, err
	}
	if k.journal != nil {
		if err := k.journal.Compact(mark); err != nil {
			return 0, err
		}
	}
	k.log.Debug("state snapshot written", "bytes", size, "took", time.Since(start))
	return int(size), nil
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
