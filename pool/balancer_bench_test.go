package pool

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// pickSink keeps the compiler from discarding picks.
var pickSink *Instance

var benchSizes = []int{2, 10, 100, 1000}

// namedBalancer is a balancer kind to benchmark: its name and a builder.
type namedBalancer struct {
	name  string
	build func([]*Instance) balancer
}

// benchBalancers returns the balancer kinds in a stable order.
func benchBalancers() []namedBalancer {
	return []namedBalancer{
		{BalancerLeastConn, func(ins []*Instance) balancer { return leastConn{ins} }},
		{BalancerRoundRobin, func(ins []*Instance) balancer { return newRoundRobin(ins) }},
		{BalancerConsistentHash, func(ins []*Instance) balancer { return newHashRing(ins) }},
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

// benchKeys are consistent-hash keys, cycled through by the benchmarks so
// that ring lookups are not all served from one cache line.
var benchKeys = ringKeys(1024)

// BenchmarkPick measures one pick on one goroutine.
func BenchmarkPick(b *testing.B) {
	for _, bal := range benchBalancers() {
		for _, n := range benchSizes {
			p := bal.build(loadedInstances(n))
			b.Run(bal.name+"/instances="+strconv.Itoa(n), func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					pickSink = p.pick(benchKeys[i&1023], nil)
					i++
				}
			})
		}
	}
	b.Run("single/instances=1", func(b *testing.B) {
		p := single{testInstances(1)}
		b.ReportAllocs()
		for b.Loop() {
			pickSink = p.pick(0, nil)
		}
	})
}

// BenchmarkPickIdle measures least_conn on idle instances, its worst case:
// every instance ties, and the scan draws a random number.
func BenchmarkPickIdle(b *testing.B) {
	for _, n := range benchSizes {
		p := leastConn{testInstances(n)}
		b.Run("least_conn/instances="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				pickSink = p.pick(0, nil)
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
			p := bal.build(loadedInstances(n))
			b.Run(bal.name+"/instances="+strconv.Itoa(n), func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					var last *Instance
					i := rand.IntN(1024)
					for pb.Next() {
						in := p.pick(benchKeys[i&1023], nil)
						in.inFlight.Add(1)
						in.inFlight.Add(-1)
						last = in
						i++
					}
					pickSink = last
				})
			})
		}
	}
}

// BenchmarkRebuild measures building a snapshot's balancer, which happens
// on every change of membership or health.
func BenchmarkRebuild(b *testing.B) {
	for _, bal := range benchBalancers()[1:] {
		for _, n := range benchSizes {
			ins := testInstances(n)
			b.Run(bal.name+"/instances="+strconv.Itoa(n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = bal.build(ins)
				}
			})
		}
	}
}
