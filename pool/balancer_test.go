package pool

import (
	"strconv"
	"testing"
)

// testInstances returns n healthy instances with the given in-flight
// counts (zero for missing ones). They have no connection pool: balancers
// need none.
func testInstances(n int, inFlight ...int64) []*Instance {
	ins := make([]*Instance, n)
	for i := range ins {
		ins[i] = &Instance{addr: "10.0.0." + strconv.Itoa(i) + ":80"}
		ins[i].up.Store(true)
		ins[i].weight.Store(1)
		if i < len(inFlight) {
			ins[i].inFlight.Store(inFlight[i])
		}
	}
	return ins
}

// allBalancers returns every balancer kind built over ins.
func allBalancers(ins []*Instance) []balancer {
	return []balancer{single{ins}, leastConn{ins}, newRoundRobin(ins), newHashRing(ins)}
}

func TestBalancersOnEmptyAndSingle(t *testing.T) {
	one := testInstances(1, 7)
	for _, b := range []balancer{single{}, leastConn{}, &roundRobin{}, newHashRing(nil)} {
		for _, key := range []uint64{0, 42} {
			if got := b.pick(key, nil); got != nil {
				t.Errorf("%T with no instances picked %v", b, got)
			}
		}
	}
	for _, b := range allBalancers(one) {
		for _, key := range []uint64{0, 42} {
			if got := b.pick(key, nil); got != one[0] {
				t.Errorf("%T with one instance picked %v", b, got)
			}
			if got := b.pick(key, one); got != nil {
				t.Errorf("%T with its one instance tried picked %v, want nil", b, got)
			}
		}
	}
}

// TestBalancersSkipTried checks the retry contract of every balancer: a
// pick never returns a tried instance, and returns nil only when all were
// tried.
func TestBalancersSkipTried(t *testing.T) {
	for _, n := range []int{2, 5, leastConnScanMax + 1, 100} {
		ins := testInstances(n)
		for _, b := range allBalancers(ins)[1:] {
			for key := range uint64(20) {
				var tried []*Instance
				for range n {
					in := b.pick(key, tried)
					if in == nil {
						t.Fatalf("%T over %d: nil after %d of %d tried", b, n, len(tried), n)
					}
					for _, tr := range tried {
						if tr == in {
							t.Fatalf("%T over %d: picked %s, already tried", b, n, in.addr)
						}
					}
					tried = append(tried, in)
				}
				if in := b.pick(key, tried); in != nil {
					t.Fatalf("%T over %d: picked %s with all tried", b, n, in.addr)
				}
			}
		}
	}
}
