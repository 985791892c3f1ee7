package synthetic

import (
	"testing"
	"time"
)

// TestPacerPausesAfterSlice: Pause sleeps only once a slice went by since
// the last pause; a nil Pacer never pauses.
func TestPacerPausesAfterSlice(t *testing.T) {
	var none *Pacer
	none.Pause()

	long := NewPacer(time.Hour)
	for range 1000 {
		long.Pause()
	}
	if long.last.Load() != 0 {
		t.Fatal("a Pacer with a slice of an hour paused")
	}
	short := NewPacer(time.Nanosecond)
	for i := range 3 {
		before := short.last.Load()
		short.Pause()
		if after := short.last.Load(); after <= before {
			t.Fatalf("pause %d: a Pacer with a slice of 1ns did not pause", i)
		}
	}
}
