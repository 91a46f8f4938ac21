package pool

import (
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// flakyBackend answers normally, or, while broken, closes each connection
// before answering: a connection-level failure.
type flakyBackend struct {
	*backend
	broken atomic.Bool
}

func startFlakyBackend(tb testing.TB) *flakyBackend {
	fb := &flakyBackend{}
	closeConn := hijack(func(net.Conn) {})
	fb.backend = startBackend(tb, func(ctx *fasthttp.RequestCtx) {
		if fb.broken.Load() {
			closeConn(ctx)
			return
		}
		ok(ctx)
	})
	return fb
}

// sendUntil sends GETs through s until it has sent n requests that reached
// the instance at addr, and returns the errors of those.
func sendUntil(t *testing.T, s *Service, addr string, n int) []error {
	t.Helper()
	var errs []error
	for range 100 {
		if len(errs) == n {
			return errs
		}
		in, err := get(t, s, "/")
		if in != nil && in.Addr() == addr {
			errs = append(errs, err)
		} else if err != nil {
			t.Fatalf("request to %v failed: %v", in, err)
		}
	}
	t.Fatalf("%d of %d requests reached %s", len(errs), n, addr)
	return nil
}

// TestPassiveEjection ejects an instance after EjectAfter consecutive
// connection failures, brings it back after EjectFor by the injected clock,
// on probation, and checks that a success clears its count.
func TestPassiveEjection(t *testing.T) {
	good, flaky := startBackend(t, ok), startFlakyBackend(t)
	clock := newFakeClock()
	s := newTestService(t, Options{
		Instances: []string{good.addr, flaky.addr},
		Balancer:  BalancerRoundRobin,
		Now:       clock.Now,
		// EjectAfter and EjectFor at their defaults: 2 and 10s.
	})
	inFlaky := findInstance(s, flaky.addr)
	both, goodOnly := []string{good.addr, flaky.addr}, []string{good.addr}

	flaky.broken.Store(true)
	sendUntil(t, s, flaky.addr, 1)
	if got := healthy(s); !slices.Equal(got, both) {
		t.Fatalf("after one failure in rotation: %v, want %v", got, both)
	}
	for _, err := range sendUntil(t, s, flaky.addr, 1) {
		if err != ErrBadGateway {
			t.Fatalf("failure on the flaky instance: %v, want ErrBadGateway", err)
		}
	}
	if got := healthy(s); !slices.Equal(got, goodOnly) || inFlaky.Healthy() {
		t.Fatalf("after two failures in rotation: %v, want %v", got, goodOnly)
	}
	hits := flaky.hits.Load()
	for range 10 {
		if in, err := get(t, s, "/"); err != nil || in.Addr() != good.addr {
			t.Fatalf("request while ejected went to %v: %v", in, err)
		}
	}
	if flaky.hits.Load() != hits {
		t.Fatal("the ejected instance received requests")
	}

	clock.Advance(DefaultEjectFor - time.Nanosecond)
	s.reinstateExpired()
	if inFlaky.Healthy() {
		t.Fatal("back before EjectFor")
	}
	clock.Advance(time.Nanosecond)
	s.reinstateExpired()
	if !inFlaky.Healthy() {
		t.Fatal("not back after EjectFor")
	}

	// On probation, one failure is enough.
	sendUntil(t, s, flaky.addr, 1)
	if inFlaky.Healthy() {
		t.Fatal("a failure on probation did not eject again")
	}

	// A success on probation clears the count: two failures are needed.
	clock.Advance(DefaultEjectFor)
	s.reinstateExpired()
	flaky.broken.Store(false)
	sendUntil(t, s, flaky.addr, 1)
	flaky.broken.Store(true)
	sendUntil(t, s, flaky.addr, 1)
	if !inFlaky.Healthy() {
		t.Fatal("ejected after one failure following a success")
	}
	sendUntil(t, s, flaky.addr, 1)
	if inFlaky.Healthy() {
		t.Fatal("not ejected after two consecutive failures")
	}
}

// TestPassiveEjectionExpiresByItself checks that the background loop,
// not only a test's call, reinstates an ejected instance.
func TestPassiveEjectionExpiresByItself(t *testing.T) {
	good, flaky := startBackend(t, ok), startFlakyBackend(t)
	s := newTestService(t, Options{
		Instances: []string{good.addr, flaky.addr},
		Balancer:  BalancerRoundRobin,
		EjectFor:  50 * time.Millisecond,
	})
	flaky.broken.Store(true)
	sendUntil(t, s, flaky.addr, 2)
	in := findInstance(s, flaky.addr)
	if in.Healthy() {
		t.Fatal("not ejected")
	}
	eventually(t, "back in rotation", in.Healthy)
}

// TestPassiveIgnoresStatusesAndTimeouts checks that answers, however bad,
// and timeouts do not eject: the instance is reachable.
func TestPassiveIgnoresStatusesAndTimeouts(t *testing.T) {
	failing := startBackend(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/slow" {
			time.Sleep(100 * time.Millisecond)
		}
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
	})
	s := newTestService(t, Options{Instances: []string{failing.addr}, Timeout: 20 * time.Millisecond})
	for _, path := range []string{"/", "/", "/", "/slow", "/slow", "/slow"} {
		_, _ = get(t, s, path)
	}
	if !s.Instances()[0].Healthy() {
		t.Error("ejected for statuses and timeouts")
	}
}

// TestPassiveWithActiveChecks checks that a passively ejected instance
// returns only through active checks when they are on, however long ago
// it was ejected.
func TestPassiveWithActiveChecks(t *testing.T) {
	good, flaky := startBackend(t, ok), startFlakyBackend(t)
	clock := newFakeClock()
	s := newTestService(t, Options{
		Instances:   []string{good.addr, flaky.addr},
		Balancer:    BalancerRoundRobin,
		Now:         clock.Now,
		HealthCheck: &HealthCheck{Path: "/health", Interval: time.Hour, Timeout: time.Second, UnhealthyThreshold: 3},
	})
	flaky.broken.Store(true)
	// EjectAfter defaults to the active UnhealthyThreshold.
	sendUntil(t, s, flaky.addr, 2)
	in := findInstance(s, flaky.addr)
	if !in.Healthy() {
		t.Fatal("ejected after 2 failures with an unhealthy threshold of 3")
	}
	sendUntil(t, s, flaky.addr, 1)
	if in.Healthy() {
		t.Fatal("not ejected after 3 failures")
	}

	flaky.broken.Store(false)
	clock.Advance(time.Hour)
	s.reinstateExpired()
	if in.Healthy() {
		t.Fatal("EjectFor brought the instance back while active checks are on")
	}
	s.checkRound()
	if in.Healthy() {
		t.Fatal("back after one passed check, want HealthyThreshold (2)")
	}
	s.checkRound()
	if !in.Healthy() {
		t.Fatal("not back after two passed checks")
	}
}

func TestPassiveOff(t *testing.T) {
	s := newTestService(t, Options{Instances: []string{refusedAddr(t)}, EjectAfter: -1})
	for range 5 {
		if _, err := get(t, s, "/"); err != ErrBadGateway {
			t.Fatalf("Do = %v, want ErrBadGateway", err)
		}
	}
	if !s.Instances()[0].Healthy() {
		t.Error("ejected with passive checks off")
	}
}
