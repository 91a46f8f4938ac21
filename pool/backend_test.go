package pool

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// backend is a real fasthttp server for tests: on 127.0.0.1:0, or in memory
// for benchmarks and allocation tests. It counts the requests it receives.
type backend struct {
	addr string
	hits atomic.Int64
	ln   net.Listener
	srv  *fasthttp.Server

	stopOnce sync.Once
	stopped  chan struct{} // closed when Serve has returned
}

// startBackend serves h on a free loopback port until the test ends.
func startBackend(tb testing.TB, h fasthttp.RequestHandler) *backend {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return serveBackend(tb, ln, h)
}

// startMemBackend serves h on an in-memory listener until the test ends.
// Its Dial connects to it whatever address it is given.
func startMemBackend(tb testing.TB, h fasthttp.RequestHandler) (*backend, fasthttp.DialFunc) {
	tb.Helper()
	ln := fasthttputil.NewInmemoryListener()
	b := serveBackend(tb, ln, h)
	return b, func(string) (net.Conn, error) { return ln.Dial() }
}

func serveBackend(tb testing.TB, ln net.Listener, h fasthttp.RequestHandler) *backend {
	b := &backend{addr: ln.Addr().String(), ln: ln, stopped: make(chan struct{})}
	b.srv = &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			b.hits.Add(1)
			h(ctx)
		},
		// Longer than the pool's IdleConnTimeout, as the pool's documentation
		// asks of backends: otherwise a busy test machine can let a pooled
		// connection idle past the backend's timeout, and the request
		// written to it fails as it would in production.
		IdleTimeout: 30 * time.Second,
		// Keep header names as the pool sent them, so tests can see that
		// the pool forwards them unchanged.
		DisableHeaderNamesNormalizing: true,
	}
	go func() {
		defer close(b.stopped)
		_ = b.srv.Serve(ln)
	}()
	tb.Cleanup(b.kill)
	return b
}

// kill stops the backend as a crash would, as far as its clients can
// tell: the listener refuses new connections, idle connections are
// closed, and requests being handled finish first. It returns when the
// backend is down, and is safe to call more than once.
func (b *backend) kill() {
	b.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.srv.ShutdownWithContext(ctx)
		// Shutdown closes only the listeners Serve has registered; one that
		// Serve has not reached yet would block Accept forever.
		_ = b.ln.Close()
		<-b.stopped
	})
}

// restartBackend serves h again on the address of a killed backend.
func restartBackend(tb testing.TB, old *backend, h fasthttp.RequestHandler) *backend {
	tb.Helper()
	ln, err := net.Listen("tcp", old.addr)
	if err != nil {
		tb.Fatalf("listening again on %s: %v", old.addr, err)
	}
	return serveBackend(tb, ln, h)
}

// eventually polls cond every few milliseconds until it holds, and fails
// the test if it does not within five seconds. It returns how long it
// took.
func eventually(tb testing.TB, what string, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 5*time.Second {
			tb.Fatalf("still not %s after 5s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

// get sends a GET for path through s with a one-second deadline and
// returns the instance and error.
func get(tb testing.TB, s *Service, path string) (*Instance, error) {
	tb.Helper()
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(path)
	req.Header.SetHost("svc.test")
	return s.Do(req, resp, time.Now().Add(time.Second), 0)
}

// healthy returns the addresses of the instances s has in rotation.
func healthy(s *Service) []string {
	var addrs []string
	for _, in := range s.snap.Load().healthy {
		addrs = append(addrs, in.addr)
	}
	return addrs
}

// findInstance returns s's instance with address addr, or nil.
func findInstance(s *Service, addr string) *Instance {
	for _, in := range s.Instances() {
		if in.Addr() == addr {
			return in
		}
	}
	return nil
}

// fakeClock is an Options.Now that moves only when told to.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// assertHits fails the test unless the backend receives exactly want
// requests. It waits for requests still on their way, then a little longer
// for any repeat that would exceed want.
func (b *backend) assertHits(tb testing.TB, want int64) {
	tb.Helper()
	for deadline := time.Now().Add(2 * time.Second); b.hits.Load() < want && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if got := b.hits.Load(); got != want {
		tb.Errorf("backend %s received %d requests, want exactly %d", b.addr, got, want)
	}
}

// refusedAddr returns a loopback address on which nothing listens.
func refusedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		tb.Fatal(err)
	}
	return addr
}

// newTestService builds a service and closes it when the test ends.
func newTestService(tb testing.TB, o Options) *Service {
	tb.Helper()
	s, err := New(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// hijack answers a request by handing the raw connection to f, which
// writes whatever it likes; the connection is closed afterwards.
func hijack(f func(c net.Conn)) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		ctx.HijackSetNoResponse(true)
		ctx.Hijack(func(c net.Conn) { f(c) })
	}
}

// ok answers 200 with a short body.
func ok(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }

// newRequest returns a request for method and path, released when the
// test ends.
func newRequest(tb testing.TB, method, path string) *fasthttp.Request {
	tb.Helper()
	req := fasthttp.AcquireRequest()
	req.Header.SetMethod(method)
	req.SetRequestURI(path)
	req.Header.SetHost("svc.test")
	tb.Cleanup(func() { fasthttp.ReleaseRequest(req) })
	return req
}

// newResponse returns a response released when the test ends.
func newResponse(tb testing.TB) *fasthttp.Response {
	tb.Helper()
	resp := fasthttp.AcquireResponse()
	tb.Cleanup(func() { fasthttp.ReleaseResponse(resp) })
	return resp
}

// assertInFlightZero fails the test unless every instance of s reports no
// request in flight.
func assertInFlightZero(tb testing.TB, s *Service) {
	tb.Helper()
	for _, in := range s.Instances() {
		if n := in.InFlight(); n != 0 {
			tb.Errorf("instance %s: %d in flight after all calls returned", in.Addr(), n)
		}
	}
}
