package budget

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks of snapshots and reloads at 20,000 routes (one tenant, 30d
// windows). Run:
//
//	go test ./budget -run '^$' -bench 'AppendState|LoadState|Reload' -benchtime 3x -timeout 30m
//
// bytes/route is the compressed snapshot's size per route, and
// max-ingest-stall-ms the longest a concurrent Ingest call of the same
// tenant took meanwhile (scheduling and GC included).

// stateEngine returns an engine of routes routes (two series each) with a
// rolling 30d window: full, every minute of the ring and every hour of the
// hour ring counted, or as newLoadedEngine leaves it (4 minutes of data).
func stateEngine(routes int, full bool) *Engine {
	e, _ := newLoadedEngine(routes)
	if full {
		fillBuckets(e)
	}
	return e
}

// fillBuckets gives every route of e's tenant 0 a full window of busy
// history: every minute of the ring and every folded unit counted.
// Requests per minute follow the day (400 to 1600, plus noise); a few
// fail, and with time slices a few slices are bad.
func fillBuckets(e *Engine) {
	rng := rand.New(rand.NewPCG(1, 1))
	perMinute := func(m int64) uint64 {
		return uint64(1000+600*math.Sin(2*math.Pi*float64(m)/1440)) + rng.Uint64N(60)
	}
	ts := e.lookupTenant(Tenant{})
	ts.flushPending() // as a reader would: the counts are set below
	for _, r := range ts.routes[0] {
		b := &r.b
		b.advance(ts.head, nil, &ts.scratch, nil)
		for m := b.ringStart(); m <= b.head; m++ {
			total := perMinute(m)
			b.ring.set(m, total-rng.Uint64N(3), total)
		}
		for h := floorDiv64(b.ringStart(), 60); h <= floorDiv64(b.head, 60)-2; h++ {
			b.ring.seal(h * 60) // as advance does
		}
		for u := b.unitHead - b.unitLen + 1; u <= b.unitHead; u++ {
			j := b.unitAt(u)
			start := b.unitStart(u)
			total := uint64(b.unitStart(u+1)-start) * perMinute(start)
			b.unitSet(j, total-rng.Uint64N(100), total)
			if sl := b.lay.sl.len; sl > 0 {
				bad := rng.Uint64N(3)
				b.sl.set(3*j+sliceGood, uint64((b.unitStart(u+1)-start)/sl)-bad)
				b.sl.set(3*j+sliceBad, bad)
			}
		}
		b.sumRing()
		b.sumUnits()
		b.recomputeExclusion(nil, &ts.scratch)
	}
}

func BenchmarkAppendState(b *testing.B) {
	for _, full := range []bool{false, true} {
		b.Run(fmt.Sprintf("routes=20000/full=%v", full), func(b *testing.B) {
			e := stateEngine(20_000, full)
			data, _ := e.AppendState(nil)
			stop, started := make(chan struct{}), make(chan struct{})
			var worst atomic.Int64
			go func() { worst.Store(int64(ingestStall(e, stop, started))) }()
			<-started
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				data, _ = e.AppendState(data[:0])
			}
			b.StopTimer()
			close(stop)
			for worst.Load() == 0 {
				time.Sleep(time.Millisecond)
			}
			b.ReportMetric(float64(len(data))/20_000, "bytes/route")
			b.ReportMetric(float64(worst.Load())/1e6, "max-ingest-stall-ms")
		})
	}
}

func BenchmarkLoadState(b *testing.B) {
	for _, full := range []bool{false, true} {
		b.Run(fmt.Sprintf("routes=20000/full=%v", full), func(b *testing.B) {
			data, _ := stateEngine(20_000, full).AppendState(nil)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				e := NewEngine(EngineConfig{Sources: []Source{nginxSource()}})
				if err := e.LoadState(data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data))/20_000, "bytes/route")
		})
	}
}

// ingestStall ingests into e's tenant 0 until stop is closed and returns
// the longest an Ingest call took: how long a snapshot stops writers.
func ingestStall(e *Engine, stop <-chan struct{}, started chan<- struct{}) time.Duration {
	series := nginxSeries(50, []string{"200"})
	ts := time.Now().UnixMilli()
	var worst time.Duration
	for i := 0; ; i++ {
		if i == 1 {
			close(started)
		}
		select {
		case <-stop:
			return worst
		default:
		}
		begin := time.Now()
		e.Ingest(Tenant{}, series[i%len(series)], []Sample{{Value: float64(i), Timestamp: ts + int64(i)}})
		worst = max(worst, time.Since(begin))
	}
}
