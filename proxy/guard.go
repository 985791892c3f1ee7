package proxy

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/remotewrite"
)

// The write guard: series named like slogate's own synthetic series
// (Config.Reserved) are dropped from a write before it is forwarded, so
// that nobody who can write can forge an error budget. The common write
// holds none: the scan flags them on the way (keep), and only then is the
// body rebuilt without them (dropReserved); otherwise the original bytes
// are forwarded, with no allocation.

// keep is the scanner's callback for every metric name of a write: a
// reserved name flags the write, any other is asked of the engine.
func (ws *writeState) keep(name []byte) bool {
	// A write holds the series of a few dozen metrics, mostly in runs: the
	// answers for the names asked so far in this write stand, kept in a
	// small direct-mapped table. They are never reserved names, which
	// must flag the write.
	a := &ws.names[nameSlot(name)]
	if a.name != nil && string(name) == string(a.name) {
		return a.keep
	}
	if ws.reserved != nil && ws.reserved(name) {
		ws.forged = true
		return false
	}
	keep := ws.wants(name)
	*a = nameAnswer{name, keep}
	return keep
}

// nameSlots is the size of writeState.names.
const nameSlots = 64

// nameSlot is the slot of a metric name in writeState.names: from its
// length and two of its bytes, which tell apart the names of a scrape
// (common prefixes and suffixes) well enough, and cost no loop.
func nameSlot(name []byte) int {
	n := len(name)
	if n == 0 {
		return 0
	}
	return int(uint(n)^uint(name[n/2])<<1^uint(name[n*3/4])<<3) & (nameSlots - 1)
}

// nameAnswer is keep's answer for a metric name.
type nameAnswer struct {
	name []byte // aliases the write's body
	keep bool
}

// dropReserved rebuilds a write that holds reserved series without them:
// the decompressed request is filtered and sent on snappy-compressed (its
// Content-Encoding set to match). It returns the body to forward.
func (s *Server) dropReserved(ctx *fasthttp.RequestCtx, ws *writeState) ([]byte, error) {
	var n int
	var err error
	ws.filtered, n, err = remotewrite.AppendWithout(ws.filtered[:0], ws.wr.Buf, s.cfg.Reserved)
	if err != nil {
		return nil, err
	}
	s.metrics.syntheticRefused.Add(n)
	ws.out = remotewrite.AppendSnappy(ws.out[:0], ws.filtered)
	ctx.Request.Header.Set(fasthttp.HeaderContentEncoding, "snappy")
	// An SLI series that carries a reserved name as well (a second
	// __name__) is not forwarded: it is not counted either.
	kept := ws.wr.Series[:0]
	for i := range ws.wr.Series {
		ws.labels = ws.wr.Series[i].AppendLabels(ws.labels[:0])
		if !hasReservedName(ws.labels, s.cfg.Reserved) {
			kept = append(kept, ws.wr.Series[i])
		}
	}
	clear(ws.labels) // they alias the body
	clear(ws.wr.Series[len(kept):])
	ws.wr.Series = kept
	return ws.out, nil
}

// hasReservedName reports whether any label VictoriaMetrics could take for
// the metric name (__name__ or an empty name) has a reserved value.
func hasReservedName(labels []budget.Label, reserved func([]byte) bool) bool {
	for _, l := range labels {
		if (l.Name == "__name__" || l.Name == "") && reserved([]byte(l.Value)) {
			return true
		}
	}
	return false
}

// deniedPrefixes are the upstream paths refused with 403 unless
// Config.AllowAdminPaths: VictoriaMetrics' admin and internal endpoints,
// which delete series, create and delete snapshots, force merges and
// flushes, reset caches, reload configuration or profile the process.
// Every other path not served by slogate passes through.
var deniedPrefixes = [][]byte{
	[]byte("/internal/"), // force_merge, force_flush, resetRollupResultCache
	[]byte("/snapshot"),  // /snapshot/create, list, delete, delete_all
	[]byte("/-/"),        // /-/reload and friends
	[]byte("/admin/"),    // vmselect's and vmstorage's admin paths
	[]byte("/delete/"),   // vmselect's /delete/<tenant>/... (delete_series)
	[]byte("/debug/"),    // /debug/pprof
}

// adminSegment anywhere in a path is an admin API: /api/v1/admin/,
// /prometheus/api/v1/admin/, /select/<tenant>/prometheus/api/v1/admin/.
var adminSegment = []byte("/api/v1/admin/")

// deniedPath reports whether a normalised path is one of VictoriaMetrics'
// admin or internal paths.
func deniedPath(path []byte) bool {
	if bytes.Contains(path, adminSegment) {
		return true
	}
	for _, p := range deniedPrefixes {
		if bytes.HasPrefix(path, p) {
			return true
		}
	}
	return false
}
