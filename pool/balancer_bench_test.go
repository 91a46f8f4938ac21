package pool

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// pickSink keeps the compiler from discarding picks.
var pickSink *Instance

var benchSizes = []int{2, 10, 100, 1000}

// benchBalancers returns fresh balancers by name, in a stable order.
func benchBalancers() []struct {
	name string
	b    Balancer
} {
	return []struct {
		name string
		b    Balancer
	}{
		{BalancerLeastConn, leastConn{}},
		{BalancerRoundRobin, new(roundRobin)},
	}
}

// loadedInstances returns n instances with 0 to 3 requests in flight each,
// so that least_conn sees both ties and differences.
func loadedInstances(n int) []*Instance {
	ins := testInstances(n)
	r := rand.New(rand.NewPCG(1, 2))
	for _, in := range ins {
		in.inFlight.Store(r.Int64N(4))
	}
	return ins
}

// BenchmarkPick measures one pick on one goroutine.
func BenchmarkPick(b *testing.B) {
	for _, bal := range benchBalancers() {
		for _, n := range benchSizes {
			ins := loadedInstances(n)
			b.Run(bal.name+"/instances="+strconv.Itoa(n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					pickSink = bal.b.Pick(ins)
				}
			})
		}
	}
	b.Run("single/instances=1", func(b *testing.B) {
		ins := testInstances(1)
		b.ReportAllocs()
		for b.Loop() {
			pickSink = single{}.Pick(ins)
		}
	})
}

// BenchmarkPickIdle measures least_conn on idle instances, its worst case:
// every instance ties, and the scan draws a random number for each.
func BenchmarkPickIdle(b *testing.B) {
	for _, n := range benchSizes {
		ins := testInstances(n)
		b.Run("least_conn/instances="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				pickSink = leastConn{}.Pick(ins)
			}
		})
	}
}

// BenchmarkPickParallel measures picks from all CPUs at once, where the
// round-robin counter is contended and least_conn counters change under
// the scan as they do in service.
func BenchmarkPickParallel(b *testing.B) {
	for _, bal := range benchBalancers() {
		for _, n := range benchSizes {
			ins := loadedInstances(n)
			b.Run(bal.name+"/instances="+strconv.Itoa(n), func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					var last *Instance
					for pb.Next() {
						in := bal.b.Pick(ins)
						in.inFlight.Add(1)
						in.inFlight.Add(-1)
						last = in
					}
					pickSink = last
				})
			})
		}
	}
}
