package pool

import "slices"

// balancer chooses the instance for one attempt. A balancer is built for
// one snapshot's healthy instances and never changes afterwards: a change
// of membership or health builds a new one, so that picks read immutable
// state and atomic counters, never a lock.
//
// pick returns an instance not in tried, or nil when every instance was
// tried (or there is none). key is the request's consistent-hash key, 0
// when it has none; balancers other than the hash ring ignore it. tried is
// nil for a first attempt; a retry passes the instances already tried, so
// that it lands on another. Implementations must be safe for concurrent use,
// must not retain tried, and must not allocate: pick runs on every request.
type balancer interface {
	pick(key uint64, tried []*Instance) *Instance
}

var (
	_ balancer = single{}
	_ balancer = leastConn{}
	_ balancer = (*roundRobin)(nil)
	_ balancer = (*hashRing)(nil)
)

// newBalancer returns the balancer named by a validated Options.Balancer
// over the healthy instances. One instance, or none, gets the no-op
// balancer whatever the name, so that it does no balancing work per
// request.
func newBalancer(name string, healthy []*Instance) balancer {
	switch {
	case len(healthy) <= 1:
		return single{healthy}
	case name == BalancerRoundRobin:
		return newRoundRobin(healthy)
	case name == BalancerConsistentHash:
		return newHashRing(healthy)
	default:
		return leastConn{healthy}
	}
}

// single is the balancer of a service with one healthy instance or none.
type single struct{ instances []*Instance }

// pick returns the only instance, unless it was tried or there is none.
func (s single) pick(_ uint64, tried []*Instance) *Instance {
	if len(s.instances) == 0 || slices.Contains(tried, s.instances[0]) {
		return nil
	}
	return s.instances[0]
}
