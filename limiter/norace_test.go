//go:build !race

package limiter

// raceEnabled shrinks the heaviest loops under the race detector, which
// slows map and lock operations about twentyfold.
const raceEnabled = false
