// Package metrics keeps the gateway's counters and histograms and writes
// them in the Prometheus text format.
//
// The request path only increments atomics on structs it found when the
// configuration was compiled (one *Route per route), so recording a
// request costs no map look-up, lock or allocation. Series outlive a
// reload: a route keeps its *Route across configurations by name, so
// counters do not reset when the file changes.
package metrics
