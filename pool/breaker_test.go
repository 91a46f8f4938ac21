package pool

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

func newTestBreaker(c CircuitBreaker) (*breaker, *fakeClock) {
	o, err := Options{CircuitBreaker: &c}.withDefaults()
	if err != nil {
		panic(err)
	}
	return newBreaker("test", o.CircuitBreaker, zap.NewNop()), newFakeClock()
}

// record admits and finishes n requests, failed as told, and returns how
// many were admitted.
func record(b *breaker, clock *fakeClock, n int, failed bool) int {
	admitted := 0
	for range n {
		if t, ok := b.admit(clock.Now); ok {
			admitted++
			b.done(t, failed, clock.Now)
		}
	}
	return admitted
}

func TestWindowSlides(t *testing.T) {
	var w window
	w.width = int64(time.Second)
	clock := newFakeClock()
	ns := func() int64 { return clock.Now().UnixNano() }
	for range 3 {
		w.add(ns(), false)
	}
	w.add(ns(), true)
	if r, f := w.sum(ns()); r != 4 || f != 1 {
		t.Fatalf("sum = %d, %d; want 4, 1", r, f)
	}
	clock.Advance(5 * time.Second)
	w.add(ns(), true)
	if r, f := w.sum(ns()); r != 5 || f != 2 {
		t.Fatalf("5s later: sum = %d, %d; want 5, 2", r, f)
	}
	// The first bucket leaves the window ten buckets after it began.
	clock.Advance(5 * time.Second)
	if r, f := w.sum(ns()); r != 1 || f != 1 {
		t.Fatalf("10s later: sum = %d, %d; want 1, 1", r, f)
	}
	// A bucket reused a cycle later starts from zero.
	clock.Advance(5 * time.Second)
	w.add(ns(), false)
	if r, f := w.sum(ns()); r != 1 || f != 0 {
		t.Fatalf("15s later: sum = %d, %d; want 1, 0", r, f)
	}
	w.reset()
	if r, f := w.sum(ns()); r != 0 || f != 0 {
		t.Fatalf("after reset: sum = %d, %d", r, f)
	}
}

func TestWindowConcurrentAddsAreExact(t *testing.T) {
	var w window
	w.width = int64(time.Hour)
	now := time.Now().UnixNano()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				w.add(now, (g+i)%4 == 0)
			}
		})
	}
	wg.Wait()
	if r, f := w.sum(now); r != 8000 || f != 2000 {
		t.Errorf("sum = %d, %d; want 8000, 2000", r, f)
	}
}

func TestBreakerOpensAtRateAndMinimum(t *testing.T) {
	b, clock := newTestBreaker(CircuitBreaker{MinRequests: 10, ErrorRate: 0.5})
	record(b, clock, 4, false)
	record(b, clock, 5, true)
	if got := b.current(clock.Now); got != CircuitClosed {
		t.Fatalf("9 requests, 5 failed: %v, want closed (below MinRequests)", got)
	}
	record(b, clock, 1, false)
	if got := b.current(clock.Now); got != CircuitClosed {
		t.Fatalf("a success never opens: %v", got)
	}
	record(b, clock, 1, true)
	if got := b.current(clock.Now); got != CircuitOpen {
		t.Fatalf("11 requests, 6 failed: %v, want open", got)
	}
	if n := record(b, clock, 5, false); n != 0 {
		t.Fatalf("open circuit admitted %d requests", n)
	}

	// Failures spread thinner than the rate never open it.
	b, clock = newTestBreaker(CircuitBreaker{MinRequests: 10, ErrorRate: 0.5})
	for range 100 {
		record(b, clock, 2, false)
		record(b, clock, 1, true)
		clock.Advance(100 * time.Millisecond)
	}
	if got := b.current(clock.Now); got != CircuitClosed {
		t.Fatalf("a third of requests failing at rate 0.5: %v", got)
	}

	// Old failures slide out of the window.
	b, clock = newTestBreaker(CircuitBreaker{MinRequests: 10, ErrorRate: 0.5, Window: 10 * time.Second})
	record(b, clock, 9, true)
	clock.Advance(11 * time.Second)
	record(b, clock, 1, true)
	if got := b.current(clock.Now); got != CircuitClosed {
		t.Fatalf("failures older than the window opened it: %v", got)
	}
}

func TestBreakerHalfOpen(t *testing.T) {
	const openFor = 30 * time.Second
	b, clock := newTestBreaker(CircuitBreaker{MinRequests: 2, OpenFor: openFor, HalfOpenProbes: 3})
	trip := func() {
		t.Helper()
		record(b, clock, 2, true)
		if got := b.current(clock.Now); got != CircuitOpen {
			t.Fatalf("not open after failures: %v", got)
		}
	}
	trip()
	clock.Advance(openFor - time.Nanosecond)
	if _, ok := b.admit(clock.Now); ok {
		t.Fatal("admitted before OpenFor ended")
	}
	clock.Advance(time.Nanosecond)
	if got := b.current(clock.Now); got != CircuitHalfOpen {
		t.Fatalf("after OpenFor: %v, want half_open", got)
	}

	// Three probes at once; the fourth request is refused.
	var probes []ticket
	for range 3 {
		tk, ok := b.admit(clock.Now)
		if !ok || !tk.probe {
			t.Fatalf("probe refused: %+v %v", tk, ok)
		}
		probes = append(probes, tk)
	}
	if _, ok := b.admit(clock.Now); ok {
		t.Fatal("a fourth request admitted while three probes are out")
	}
	// A probe that reached no backend gives its place back.
	b.release(probes[2])
	tk, ok := b.admit(clock.Now)
	if !ok {
		t.Fatal("released probe slot not reusable")
	}
	probes[2] = tk
	for i, tk := range probes {
		b.done(tk, false, clock.Now)
		want := CircuitHalfOpen
		if i == 2 {
			want = CircuitClosed
		}
		if got := b.current(clock.Now); got != want {
			t.Fatalf("after %d successful probes: %v, want %v", i+1, got, want)
		}
	}
	// Closing reset the window: one more failure is not a rate of 1.
	record(b, clock, 1, true)
	if got := b.current(clock.Now); got != CircuitClosed {
		t.Fatalf("one failure after closing: %v, want closed", got)
	}

	// Any failed probe reopens, for a full OpenFor.
	trip()
	clock.Advance(openFor)
	first, _ := b.admit(clock.Now)
	second, _ := b.admit(clock.Now)
	b.done(first, false, clock.Now)
	b.done(second, true, clock.Now)
	if got := b.current(clock.Now); got != CircuitOpen {
		t.Fatalf("after a failed probe: %v, want open", got)
	}
	clock.Advance(openFor / 2)
	if _, ok := b.admit(clock.Now); ok {
		t.Fatal("admitted half an OpenFor after reopening")
	}

	// A late probe of an earlier half-open period changes nothing.
	clock.Advance(openFor)
	current, _ := b.admit(clock.Now)
	b.done(first, true, clock.Now)
	if got := b.current(clock.Now); got != CircuitHalfOpen {
		t.Fatalf("a stale probe's failure moved the circuit to %v", got)
	}
	b.done(current, true, clock.Now)
	if got := b.current(clock.Now); got != CircuitOpen {
		t.Fatalf("the current probe's failure left the circuit %v", got)
	}
}

func TestCircuitStateString(t *testing.T) {
	for st, want := range map[CircuitState]string{
		CircuitClosed: "closed", CircuitOpen: "open", CircuitHalfOpen: "half_open", 7: "unknown",
	} {
		if st.String() != want {
			t.Errorf("%d.String() = %q, want %q", st, st.String(), want)
		}
	}
}

// TestCircuitBreakerService runs the breaker through Do against a real
// backend that counts requests: a burst of 5xx opens the circuit, which
// then spares the backend entirely; after OpenFor, only the probes reach
// it; successful probes close it and a failed one reopens it.
func TestCircuitBreakerService(t *testing.T) {
	var (
		status  atomic.Int64
		hold    atomic.Bool
		release = make(chan struct{})
		arrived = make(chan struct{}, 8)
	)
	status.Store(fasthttp.StatusInternalServerError)
	b := startBackend(t, func(ctx *fasthttp.RequestCtx) {
		if hold.Load() {
			arrived <- struct{}{}
			<-release
		}
		ctx.SetStatusCode(int(status.Load()))
	})
	clock := newFakeClock()
	const openFor = 30 * time.Second
	s := newTestService(t, Options{
		Instances: []string{b.addr},
		Now:       clock.Now,
		CircuitBreaker: &CircuitBreaker{Window: 10 * time.Second, MinRequests: 10, ErrorRate: 0.5,
			OpenFor: openFor, HalfOpenProbes: 3},
	})
	do := func() (*Instance, error) {
		req := fasthttp.AcquireRequest()
		resp := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("/")
		req.Header.SetHost("svc.test")
		return s.Do(req, resp, time.Now().Add(5*time.Second), 0)
	}

	for i := range 10 {
		if _, err := do(); err != nil {
			t.Fatalf("request %d: %v; a 500 is a response, not an error", i, err)
		}
	}
	if s.Circuit() != CircuitOpen {
		t.Fatalf("after ten 500s the circuit is %v, want open", s.Circuit())
	}
	for range 20 {
		if in, err := do(); err != ErrCircuitOpen || in != nil {
			t.Fatalf("open circuit: Do = %v, %v; want nil, ErrCircuitOpen", in, err)
		}
	}
	b.assertHits(t, 10)

	// Half-open: three probes held at the backend, a fourth refused.
	clock.Advance(openFor)
	if s.Circuit() != CircuitHalfOpen {
		t.Fatalf("after OpenFor the circuit is %v, want half_open", s.Circuit())
	}
	status.Store(fasthttp.StatusOK)
	hold.Store(true)
	errs := make(chan error, 3)
	for range 3 {
		go func() { _, err := do(); errs <- err }()
	}
	for range 3 {
		<-arrived
	}
	if _, err := do(); err != ErrCircuitOpen {
		t.Fatalf("a fourth request while three probes are out: %v, want ErrCircuitOpen", err)
	}
	hold.Store(false)
	close(release)
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("probe: %v", err)
		}
	}
	if s.Circuit() != CircuitClosed {
		t.Fatalf("after three good probes the circuit is %v, want closed", s.Circuit())
	}
	b.assertHits(t, 13)

	// Open again; a failed probe reopens it.
	status.Store(fasthttp.StatusServiceUnavailable)
	for range 10 {
		_, _ = do()
	}
	if s.Circuit() != CircuitOpen {
		t.Fatalf("after ten 503s the circuit is %v, want open", s.Circuit())
	}
	clock.Advance(openFor)
	if _, err := do(); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if s.Circuit() != CircuitOpen {
		t.Fatalf("after a failed probe the circuit is %v, want open", s.Circuit())
	}
	if _, err := do(); err != ErrCircuitOpen {
		t.Fatalf("after a failed probe: %v, want ErrCircuitOpen", err)
	}
	b.assertHits(t, 24)
}

// TestCircuitCountsTransportFailures opens the circuit on refused
// connections, which never produce a status.
func TestCircuitCountsTransportFailures(t *testing.T) {
	s := newTestService(t, Options{
		Instances:      []string{refusedAddr(t)},
		EjectAfter:     -1,
		CircuitBreaker: &CircuitBreaker{MinRequests: 5},
	})
	for range 5 {
		if _, err := get(t, s, "/"); err != ErrBadGateway {
			t.Fatalf("Do = %v, want ErrBadGateway", err)
		}
	}
	if _, err := get(t, s, "/"); err != ErrCircuitOpen {
		t.Fatalf("after 5 refusals: %v, want ErrCircuitOpen", err)
	}
	if s.Circuit() != CircuitOpen {
		t.Errorf("circuit %v, want open", s.Circuit())
	}
}

func TestCircuitWithoutBreaker(t *testing.T) {
	s := newTestService(t, Options{Instances: []string{"a:1"}})
	if s.Circuit() != CircuitClosed {
		t.Errorf("Circuit() = %v without a breaker, want closed", s.Circuit())
	}
}
