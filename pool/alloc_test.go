//go:build !race

package pool

import (
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// The race detector allocates on its own, so these run without it.

func TestPickDoesNotAllocate(t *testing.T) {
	for _, bal := range benchBalancers() {
		for _, n := range benchSizes {
			for _, ins := range [][]*Instance{loadedInstances(n), testInstances(n)} {
				p := bal.build(ins)
				i := 0
				pick := func() { pickSink = p.pick(benchKeys[i&1023], nil); i++ }
				if avg := testing.AllocsPerRun(1000, pick); avg != 0 {
					t.Errorf("%s with %d instances: %v allocations per pick, want 0", bal.name, n, avg)
				}
			}
		}
	}
	one := single{testInstances(1)}
	if avg := testing.AllocsPerRun(1000, func() { pickSink = one.pick(0, nil) }); avg != 0 {
		t.Errorf("single: %v allocations per pick, want 0", avg)
	}
}

func TestHashKeyDoesNotAllocate(t *testing.T) {
	req := newRequest(t, fasthttp.MethodGet, "/")
	req.Header.Set("X-Client-ID", "abc")
	req.Header.SetCookie("sid", "client-42")
	ip := net.ParseIP("192.0.2.1")
	for _, s := range []string{"header:X-Client-ID", "header:X-Absent", "cookie:sid", "cookie:absent", "ip"} {
		h, _ := ParseHashOn(s)
		var sink uint64
		if avg := testing.AllocsPerRun(1000, func() { sink, _ = h.Key(req, ip) }); avg != 0 {
			t.Errorf("%s: %v allocations per Key, want 0", s, avg)
		}
		_ = sink
	}
}

func TestDoDoesNotAllocate(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Options
		n    int
	}{
		{"single", Options{}, 1},
		{"least_conn", Options{}, 3},
		{"round_robin", Options{Balancer: BalancerRoundRobin}, 3},
		{"consistent_hash", Options{Balancer: BalancerConsistentHash, HashOn: "header:X-Client-ID"}, 3},
		{"retries, breaker and checks", Options{
			Retries:        2,
			CircuitBreaker: &CircuitBreaker{},
			HealthCheck:    &HealthCheck{Path: "/health", Interval: time.Hour, Timeout: time.Second},
		}, 3},
	} {
		s := newBenchService(t, c.o, c.n)
		req := newRequest(t, fasthttp.MethodGet, "/users/42")
		req.Header.Set("X-Client-ID", "abc")
		resp := newResponse(t)
		key := s.HashKey(req, nil)
		var err error
		do := func() { _, err = s.Do(req, resp, time.Now().Add(time.Second), key) }
		// Warm up: connections, buffers and fasthttp's pools.
		for range 100 {
			if do(); err != nil {
				t.Fatal(err)
			}
		}
		if avg := testing.AllocsPerRun(1000, do); avg != 0 || err != nil {
			t.Errorf("%s with %d instances: %v allocations per Do (err %v), want 0", c.name, c.n, avg, err)
		}
		// Without a deadline the service timeout applies.
		do = func() { _, err = s.Do(req, resp, time.Time{}, key) }
		if avg := testing.AllocsPerRun(1000, do); avg != 0 || err != nil {
			t.Errorf("%s with %d instances, no deadline: %v allocations per Do (err %v), want 0", c.name, c.n, avg, err)
		}
	}
}

// TestRefusalsDoNotAllocate checks the answers Do gives without a backend:
// a stream of them, as when a circuit is open, must cost no garbage.
func TestRefusalsDoNotAllocate(t *testing.T) {
	req := newRequest(t, fasthttp.MethodGet, "/")
	resp := newResponse(t)
	empty := newTestService(t, Options{Name: "empty"})
	var err error
	if avg := testing.AllocsPerRun(1000, func() { _, err = empty.Do(req, resp, time.Time{}, 0) }); avg != 0 || err != ErrUnavailable {
		t.Errorf("no instance: %v allocations per Do (err %v), want 0 and ErrUnavailable", avg, err)
	}

	s := newTestService(t, Options{Instances: []string{"10.0.0.1:80"}, CircuitBreaker: &CircuitBreaker{}})
	s.breaker.state.Store(packState(CircuitOpen, 0, 0, 0))
	s.breaker.openedAt.Store(time.Now().UnixNano())
	if avg := testing.AllocsPerRun(1000, func() { _, err = s.Do(req, resp, time.Time{}, 0) }); avg != 0 || err != ErrCircuitOpen {
		t.Errorf("open circuit: %v allocations per Do (err %v), want 0 and ErrCircuitOpen", avg, err)
	}
}
