//go:build race

package loadtest

// raceScale multiplies request rates (and the flood's count) under the
// race detector, which makes the test process, generator and backends
// included, several times slower: the properties are the same at a lower
// rate, and the run stays within the time CI gives the package.
const raceScale = 0.4
