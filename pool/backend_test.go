package pool

import (
	"context"
	"net"
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
	b := &backend{addr: ln.Addr().String(), ln: ln}
	b.srv = &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			b.hits.Add(1)
			h(ctx)
		},
		IdleTimeout: time.Second,
		// Keep header names as the pool sent them, so tests can see that
		// the pool forwards them unchanged.
		DisableHeaderNamesNormalizing: true,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.srv.Serve(ln)
	}()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.srv.ShutdownWithContext(ctx)
		// Shutdown closes only the listeners Serve has registered; one that
		// Serve has not reached yet would block Accept forever.
		_ = ln.Close()
		<-done
	})
	return b
}

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
