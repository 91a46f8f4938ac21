package pool

import (
	"math/rand/v2"
	"sync/atomic"
)

// Balancer chooses the instance for one request. Pick returns nil only when
// instances is empty. Implementations must be safe for concurrent use, must
// not modify or retain instances, and must not allocate: Pick runs on every
// request.
//
// The service passes the instances to choose from rather than the balancer
// holding them, so that a caller can narrow the set (to healthy instances,
// or to those not yet tried) without the balancer knowing why.
type Balancer interface {
	Pick(instances []*Instance) *Instance
}

var (
	_ Balancer = single{}
	_ Balancer = leastConn{}
	_ Balancer = (*roundRobin)(nil)
)

// newBalancer returns the balancer for a validated name and pool size. A
// service of one instance, or none, gets the no-op balancer whatever the
// name, so that it does no balancing work per request.
func newBalancer(name string, instances int) Balancer {
	switch {
	case instances <= 1:
		return single{}
	case name == BalancerRoundRobin:
		return new(roundRobin)
	default:
		return leastConn{}
	}
}

// single is the balancer of a service with one instance or none: it returns
// the first instance, if any.
type single struct{}

// Pick returns instances[0], or nil if there is none.
func (single) Pick(instances []*Instance) *Instance {
	if len(instances) == 0 {
		return nil
	}
	return instances[0]
}

// leastConnScanMax is the largest number of instances leastConn scans in
// full. Up to it a scan costs a few nanoseconds per instance and gives the
// exact least-loaded instance; above it, two random choices cost the same
// at any size and come close (see leastConn).
const leastConnScanMax = 16

// leastConn sends each request to the instance with the fewest requests in
// flight, which steers traffic away from an instance that has become slow
// before any health check notices. It is stateless: the counts live in the
// instances.
//
// With up to leastConnScanMax instances, Pick scans them all, O(n), and
// breaks ties uniformly at random, so that idle instances share the load
// instead of the first one taking it all. With more, Pick uses the power of
// two random choices: it draws two distinct instances and takes the less
// loaded, O(1). That is not always the global minimum, but it never picks an
// instance more loaded than every other, and it keeps the maximum load
// exponentially closer to the mean than one random choice would
// (Mitzenmacher, 2001), without reading a thousand counters per request.
type leastConn struct{}

// Pick returns the least-loaded instance, or nil if there is none.
func (leastConn) Pick(instances []*Instance) *Instance {
	n := len(instances)
	switch {
	case n == 0:
		return nil
	case n == 1:
		return instances[0]
	case n > leastConnScanMax:
		return pickTwo(instances)
	}

	// First pass: the least in-flight count and how many instances share it.
	best := instances[0]
	least := best.inFlight.Load()
	ties := uint32(1)
	for _, in := range instances[1:] {
		switch c := in.inFlight.Load(); {
		case c < least:
			best, least, ties = in, c, 1
		case c == least:
			ties++
		}
	}
	if ties == 1 {
		return best
	}
	// Second pass: the k-th of the tied instances, k drawn once, so a pick
	// costs at most one random number. Counts may have moved since the
	// first pass; if the k-th tie is gone, the first minimum found will do.
	k := rand.Uint32N(ties)
	for _, in := range instances {
		if in.inFlight.Load() == least {
			if k == 0 {
				return in
			}
			k--
		}
	}
	return best
}

// pickTwo draws two distinct instances at random and returns the one with
// fewer requests in flight; on a tie, the first drawn, itself random.
// len(instances) must be at least 2.
func pickTwo(instances []*Instance) *Instance {
	// Both indexes come from one 64-bit draw, a half each, scaled by
	// multiply-and-shift. The bias is below n/2^32: nothing next to the
	// cost of a second draw.
	n := uint64(len(instances))
	r := rand.Uint64()
	i := (r >> 32) * n >> 32
	j := (r & 0xffffffff) * (n - 1) >> 32
	if j >= i {
		j++
	}
	a, b := instances[i], instances[j]
	if b.inFlight.Load() < a.inFlight.Load() {
		return b
	}
	return a
}

// roundRobin sends requests to the instances in turn. It suits backends of
// equal capacity serving requests of similar cost; least_conn adapts better
// when either varies.
type roundRobin struct {
	next atomic.Uint64
	// Every request of the service writes next; padding gives it a cache
	// line of its own so those writes do not slow readers of neighbouring
	// memory.
	_ [56]byte
}

// Pick returns the next instance in turn, or nil if there is none.
func (r *roundRobin) Pick(instances []*Instance) *Instance {
	n := uint64(len(instances))
	if n == 0 {
		return nil
	}
	return instances[(r.next.Add(1)-1)%n]
}
