//go:build !race

package loadtest

// raceScale multiplies request rates (and the flood's count); 1 without
// the race detector. See race_test.go.
const raceScale = 1.0
