//go:build !race

package pool

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// The race detector allocates on its own, so these run without it.

func TestPickDoesNotAllocate(t *testing.T) {
	for _, bal := range benchBalancers() {
		for _, n := range benchSizes {
			ins := loadedInstances(n)
			if avg := testing.AllocsPerRun(1000, func() { pickSink = bal.b.Pick(ins) }); avg != 0 {
				t.Errorf("%s with %d instances: %v allocations per Pick, want 0", bal.name, n, avg)
			}
			idle := testInstances(n)
			if avg := testing.AllocsPerRun(1000, func() { pickSink = bal.b.Pick(idle) }); avg != 0 {
				t.Errorf("%s with %d idle instances: %v allocations per Pick, want 0", bal.name, n, avg)
			}
		}
	}
	one := testInstances(1)
	if avg := testing.AllocsPerRun(1000, func() { pickSink = single{}.Pick(one) }); avg != 0 {
		t.Errorf("single: %v allocations per Pick, want 0", avg)
	}
}

func TestDoDoesNotAllocate(t *testing.T) {
	for _, c := range []struct {
		balancer  string
		instances int
	}{
		{BalancerLeastConn, 1},
		{BalancerLeastConn, 3},
		{BalancerRoundRobin, 3},
	} {
		s := newBenchService(t, c.balancer, c.instances)
		req := newRequest(t, fasthttp.MethodGet, "/users/42")
		resp := newResponse(t)
		var err error
		do := func() { _, err = s.Do(req, resp, time.Now().Add(time.Second)) }
		// Warm up: connections, buffers and fasthttp's pools.
		for range 100 {
			if do(); err != nil {
				t.Fatal(err)
			}
		}
		if avg := testing.AllocsPerRun(1000, do); avg != 0 || err != nil {
			t.Errorf("%s with %d instances: %v allocations per Do (err %v), want 0", c.balancer, c.instances, avg, err)
		}
		// Without a deadline the service timeout applies, with no clock read.
		do = func() { _, err = s.Do(req, resp, time.Time{}) }
		if avg := testing.AllocsPerRun(1000, do); avg != 0 || err != nil {
			t.Errorf("%s with %d instances, no deadline: %v allocations per Do (err %v), want 0", c.balancer, c.instances, avg, err)
		}
	}
}
