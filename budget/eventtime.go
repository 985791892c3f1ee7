package budget

import "time"

// Event time is bounded by the clock (design.md: "Event time is bounded"):
// a sample later than Now()+MaxFuture or older than
// Now()-LongestWindow-MinuteHorizon is refused before it touches any
// state. The past bound is relative to the clock, not to the tenant
// watermark: the watermark itself is moved by samples, so at a cold start
// the first sample, stray or not, would set it.

// Verdicts of inTime.
const (
	inBounds = iota
	tooEarly // older than Now()-LongestWindow-MinuteHorizon
	tooLate  // later than Now()+MaxFuture
)

// lateMs is how far behind the last clock reading a sample may be before
// inTime reads the clock again to judge it against the past bound.
const lateMs = int64(time.Hour / time.Millisecond)

// inTime judges a sample timestamp (ms) against the event-time bounds:
// not later than Now()+MaxFuture and not older than
// Now()-LongestWindow-MinuteHorizon. Samples outside count for nothing:
// not in a minute, not for the watermark, not for a target's start, and
// they create no series and no route (see anyAccepted).
//
// It reads the clock only for a sample beyond the cached bounds: later
// than the cached future bound (the clock is assumed not to step back; a
// step back of d accepts samples up to d further ahead until the clock
// catches up), or more than lateMs older than the last reading, and then
// at most once per Ingest call (*fresh). A sample within lateMs of the
// last reading is judged against the cached past bound, which is exact as
// long as the last reading is less than LongestWindow+MinuteHorizon-lateMs
// old: every sample beyond the cached future bound reads the clock.
func (e *Engine) inTime(ms int64, fresh *bool) int {
	if ms > e.futureLimit.Load() && ms > e.refreshLimits() {
		return tooLate
	}
	if ms < e.lateLimit.Load() {
		if !*fresh {
			e.refreshLimits()
			*fresh = true
		}
		if ms < e.pastLimit.Load() {
			return tooEarly
		}
	}
	return inBounds
}

// anyAccepted reports whether a sample of samples would be accepted: a
// counter value within the event-time bounds. A new series is created
// only then: a series of strays, NaN or staleness markers costs nothing.
func (e *Engine) anyAccepted(samples []Sample, fresh *bool) bool {
	for _, smp := range samples {
		if _, ok := counterValue(smp.Value); ok && e.inTime(smp.Timestamp, fresh) == inBounds {
			return true
		}
	}
	return false
}

// refreshLimits reads the clock, stores the bounds inTime uses and returns
// the future bound, Now()+MaxFuture (ms).
func (e *Engine) refreshLimits() int64 {
	now := e.now().UnixMilli()
	e.pastLimit.Store(now - e.maxAge.Load())
	e.lateLimit.Store(now - lateMs)
	e.futureLimit.Store(now + e.maxFut)
	return now + e.maxFut
}
