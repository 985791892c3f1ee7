//go:build race

package ui

// raceOn: the race detector is on (allocation tests skip).
const raceOn = true
