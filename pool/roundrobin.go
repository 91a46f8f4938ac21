package pool

import (
	"container/heap"
	"math/rand/v2"
	"slices"
	"sync/atomic"
)

// maxSchedule bounds the length of a weighted round-robin schedule. Weights
// whose sum exceeds it are scaled down in proportion (each to at least 1),
// which keeps a rebuild within milliseconds and the schedule within half a
// megabyte whatever the weights, at the price of rounding.
const maxSchedule = 1 << 16

// roundRobin sends requests to the instances in turn, each as often as its
// weight: with weights 1, 2 and 3, six consecutive picks hit the instances
// once, twice and three times. It suits backends serving requests of
// similar cost; least_conn adapts better when that cost varies.
//
// The order is a precomputed schedule, built when the snapshot is and
// indexed by an atomic counter, so a pick is one atomic add and one load,
// lock-free at any size. The schedule is smooth: each instance's turns are
// spread over the cycle (weights 3, 2, 1 give a b a c b a, not a a a b b c),
// so no instance takes a burst of consecutive requests.
type roundRobin struct {
	schedule []*Instance
	// Every request of the service writes next; padding gives it a cache
	// line of its own so those writes do not slow readers of the schedule
	// slice header next to it.
	_    [64]byte
	next atomic.Uint64
	_    [56]byte
}

// newRoundRobin builds the schedule for instances with their weights. The
// counter starts at a random place, so that gateways rebuilding at the same
// moment do not all send their next request to the same instance.
func newRoundRobin(instances []*Instance) *roundRobin {
	r := &roundRobin{schedule: smoothSchedule(instances)}
	r.next.Store(rand.Uint64N(uint64(len(r.schedule))))
	return r
}

// pick returns the next instance in turn that is not in tried, or nil if
// none is left.
func (r *roundRobin) pick(_ uint64, tried []*Instance) *Instance {
	n := uint64(len(r.schedule))
	if n == 0 {
		return nil
	}
	i := r.next.Add(1) - 1
	in := r.schedule[i%n]
	if len(tried) == 0 {
		return in
	}
	// A retry takes a turn of its own, like any attempt, and walks on from
	// it past the instances tried, without taking more turns.
	for range n {
		if !slices.Contains(tried, in) {
			return in
		}
		i++
		in = r.schedule[i%n]
	}
	return nil
}

// smoothSchedule returns one cycle of weighted round robin over instances:
// each instance appears weight times (after scaling and reduction by the
// weights' greatest common divisor), in earliest-deadline-first order. The
// k-th of an instance's w turns is due in the middle of the k-th w-th of
// the cycle, at (k-½)/w, so every instance's turns are spread evenly over
// it; the schedule lists turns by due time, ties in the instances' order.
// With equal weights it is the instances in order, once each.
func smoothSchedule(instances []*Instance) []*Instance {
	weights := make([]uint64, len(instances))
	var sum, g uint64
	for i, in := range instances {
		weights[i] = uint64(max(in.Weight(), 1))
		sum += weights[i]
	}
	if sum > maxSchedule {
		total := sum
		sum = 0
		for i, w := range weights {
			weights[i] = max(w*maxSchedule/total, 1)
			sum += weights[i]
		}
	}
	for _, w := range weights {
		g = gcd(g, w)
	}
	sum /= g
	turns := make(dueHeap, len(instances))
	for i := range weights {
		weights[i] /= g
		turns[i] = due{index: i, turn: 1, weight: weights[i]}
	}
	heap.Init(&turns)
	schedule := make([]*Instance, 0, sum)
	for range sum {
		t := &turns[0]
		schedule = append(schedule, instances[t.index])
		t.turn++
		heap.Fix(&turns, 0)
	}
	return schedule
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// due is an instance's next turn in a schedule being built: its turn-th
// appearance, due at (turn-½)/weight of the cycle.
type due struct {
	index        int
	turn, weight uint64
}

// dueHeap orders turns by due time, then by instance order. Due times are
// compared as fractions, (2·turn-1)/(2·weight), by cross-multiplying: turns
// and weights stay below 2^17, so the products cannot overflow.
type dueHeap []due

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	a, b := (2*h[i].turn-1)*h[j].weight, (2*h[j].turn-1)*h[i].weight
	return a < b || (a == b && h[i].index < h[j].index)
}
func (h dueHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)   { *h = append(*h, x.(due)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
