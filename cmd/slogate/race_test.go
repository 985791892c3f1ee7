//go:build race

package main

// raceEnabled: the race detector slows the write path and the step
// several times over; the stall test times them without it.
const raceEnabled = true
