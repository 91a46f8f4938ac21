package pool

import (
	"math/rand/v2"
	"slices"
)

// leastConnScanMax is the largest number of instances leastConn scans in
// full. Up to it a scan costs a few nanoseconds per instance and gives the
// exact least-loaded instance; above it, two random choices cost the same
// at any size and come close (see leastConn).
const leastConnScanMax = 16

// leastConn sends each request to the instance with the fewest requests in
// flight, which steers traffic away from an instance that has become slow
// before any health check notices. The counts live in the instances; the
// balancer holds only the slice it chooses from.
//
// With up to leastConnScanMax instances, pick scans them all, O(n), and
// breaks ties uniformly at random, so that idle instances share the load
// instead of the first one taking it all. With more, pick uses the power of
// two random choices: it draws two distinct instances and takes the less
// loaded, O(1). That is not always the global minimum, but it never picks an
// instance more loaded than every other, and it keeps the maximum load
// exponentially closer to the mean than one random choice would
// (Mitzenmacher, 2001), without reading a thousand counters per request.
type leastConn struct{ instances []*Instance }

// pick returns the least-loaded instance not in tried, or nil if none is
// left.
func (l leastConn) pick(_ uint64, tried []*Instance) *Instance {
	n := len(l.instances)
	if n > leastConnScanMax {
		if in := pickTwo(l.instances, tried); in != nil {
			return in
		}
		// Retries only: the draws kept landing on tried instances.
	}
	return scanLeast(l.instances, tried)
}

// scanLeast returns the instance not in tried with the fewest requests in
// flight, ties broken uniformly at random, or nil if none is left.
func scanLeast(instances []*Instance, tried []*Instance) *Instance {
	// First pass: the least in-flight count and how many instances share it.
	var best *Instance
	var least int64
	ties := uint32(0)
	for _, in := range instances {
		if len(tried) > 0 && slices.Contains(tried, in) {
			continue
		}
		switch c := in.inFlight.Load(); {
		case best == nil || c < least:
			best, least, ties = in, c, 1
		case c == least:
			ties++
		}
	}
	if ties <= 1 {
		return best
	}
	// Second pass: the k-th of the tied instances, k drawn once, so a pick
	// costs at most one random number. Counts may have moved since the
	// first pass; if the k-th tie is gone, the first minimum found will do.
	k := rand.Uint32N(ties)
	for _, in := range instances {
		if in.inFlight.Load() != least || (len(tried) > 0 && slices.Contains(tried, in)) {
			continue
		}
		if k == 0 {
			return in
		}
		k--
	}
	return best
}

// pickTwoDraws bounds the pairs pickTwo draws when some instances were
// tried. With a handful tried out of more than leastConnScanMax, four
// draws all hitting tried ones is rare; the scan that follows is exact.
const pickTwoDraws = 4

// pickTwo draws two distinct instances at random and returns the one with
// fewer requests in flight (on a tie the first drawn, itself random),
// skipping tried ones. It returns nil if every draw hit tried instances.
// len(instances) must be at least 2.
func pickTwo(instances []*Instance, tried []*Instance) *Instance {
	n := uint64(len(instances))
	for range pickTwoDraws {
		// Both indexes come from one 64-bit draw, a half each, scaled by
		// multiply-and-shift. The bias is below n/2^32: nothing next to the
		// cost of a second draw.
		r := rand.Uint64()
		i := (r >> 32) * n >> 32
		j := (r & 0xffffffff) * (n - 1) >> 32
		if j >= i {
			j++
		}
		a, b := instances[i], instances[j]
		if len(tried) > 0 {
			switch ta, tb := slices.Contains(tried, a), slices.Contains(tried, b); {
			case ta && tb:
				continue
			case ta:
				return b
			case tb:
				return a
			}
		}
		if b.inFlight.Load() < a.inFlight.Load() {
			return b
		}
		return a
	}
	return nil
}
