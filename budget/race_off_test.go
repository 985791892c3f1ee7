//go:build !race

package budget

// raceOn: the race detector is on (tests that measure memory skip).
const raceOn = false
