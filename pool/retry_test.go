package pool

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// doMethod sends one request with method and body through s and returns
// the instance, the error and the response body.
func doMethod(t *testing.T, s *Service, method string, body string) (*Instance, error, string) {
	t.Helper()
	req := newRequest(t, method, "/orders")
	if body != "" {
		req.SetBodyString(body)
	}
	resp := newResponse(t)
	in, err := s.Do(req, resp, time.Now().Add(2*time.Second), 0)
	return in, err, string(resp.Body())
}

// TestRetryGETMovesToAnotherInstance sends GETs to a dead and a live
// instance: every one succeeds, those that tried the dead one first after
// a retry on the live one, and the instance returned is the live one.
func TestRetryGETMovesToAnotherInstance(t *testing.T) {
	live := startBackend(t, ok)
	dead := refusedAddr(t)
	s := newTestService(t, Options{
		Instances:  []string{dead, live.addr},
		Balancer:   BalancerRoundRobin,
		Retries:    1,
		EjectAfter: -1,
	})
	for _, method := range []string{fasthttp.MethodGet, fasthttp.MethodHead, fasthttp.MethodOptions} {
		for range 4 {
			in, err, _ := doMethod(t, s, method, "")
			if err != nil || in.Addr() != live.addr {
				t.Fatalf("%s: Do = %v, %v; want the live instance, no error", method, in, err)
			}
		}
	}
	// A retry takes a turn of the rotation, so most requests try the dead
	// instance first; the first, from a random start, may not.
	inDead := findInstance(s, dead)
	if n := inDead.Requests(); n < 11 || inDead.Failures() != n {
		t.Errorf("dead instance: %d requests, %d failures; want 11 or 12, all failed", n, inDead.Failures())
	}
	live.assertHits(t, 12)
}

// TestRetryNeverRepeatsUnsafeMethods sends POST, PUT, DELETE and PATCH to
// an instance that closes the connection after reading the request: each
// reaches it exactly once and fails, and the live instance never sees it.
// A GET to the same instance is retried on the live one.
func TestRetryNeverRepeatsUnsafeMethods(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies [][]byte
	)
	resetter := startBackend(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		bodies = append(bodies, bytes.Clone(ctx.PostBody()))
		mu.Unlock()
		hijack(func(net.Conn) {})(ctx)
	})
	live := startBackend(t, ok)
	s := newTestService(t, Options{
		Instances:  []string{resetter.addr, live.addr},
		Balancer:   BalancerRoundRobin,
		Retries:    3,
		EjectAfter: -1,
	})
	inResetter := findInstance(s, resetter.addr)

	unsafe := []string{fasthttp.MethodPost, fasthttp.MethodPut, fasthttp.MethodDelete, fasthttp.MethodPatch}
	sentThere := 0
	for _, method := range unsafe {
		for range 2 {
			before := inResetter.Requests()
			in, err, _ := doMethod(t, s, method, `{"amount":100}`)
			if inResetter.Requests() == before {
				if err != nil || in.Addr() != live.addr {
					t.Fatalf("%s to the live instance: %v, %v", method, in, err)
				}
				continue
			}
			sentThere++
			if err != ErrBadGateway || in != inResetter {
				t.Fatalf("%s to the resetting instance: Do = %v, %v; want it and ErrBadGateway, unretried", method, in, err)
			}
		}
	}
	resetter.assertHits(t, int64(sentThere))
	live.assertHits(t, int64(2*len(unsafe)-sentThere))
	if sentThere != len(unsafe) {
		t.Errorf("round robin sent %d of %d requests to the resetting instance, want every other", sentThere, 2*len(unsafe))
	}
	mu.Lock()
	for _, body := range bodies {
		if string(body) != `{"amount":100}` {
			t.Errorf("resetting instance received body %q", body)
		}
	}
	mu.Unlock()

	// The same failure on a GET is retried. Of two GETs, at least one
	// tries the resetting instance first.
	liveHits, resetterRequests := live.hits.Load(), inResetter.Requests()
	for range 2 {
		if in, err, body := doMethod(t, s, fasthttp.MethodGet, ""); err != nil || in.Addr() != live.addr || body != "ok" {
			t.Fatalf("GET: Do = %v, %v, %q; want the live instance's answer", in, err, body)
		}
	}
	if inResetter.Requests() == resetterRequests {
		t.Error("no GET tried the resetting instance")
	}
	resetter.assertHits(t, int64(inResetter.Requests()))
	live.assertHits(t, liveHits+2)
}

// TestNoRetryOnceAnswered checks the failures a GET is not retried after:
// a timeout, a partial response, an invalid one, and any status.
func TestNoRetryOnceAnswered(t *testing.T) {
	tests := []struct {
		name    string
		handler fasthttp.RequestHandler
		want    error
	}{
		{"timeout", func(ctx *fasthttp.RequestCtx) { time.Sleep(300 * time.Millisecond) }, ErrTimeout},
		{"partial response", hijack(func(c net.Conn) {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
		}), ErrBadGateway},
		{"closed mid-headers", hijack(func(c net.Conn) {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Le")
		}), ErrBadGateway},
		{"invalid response", hijack(func(c net.Conn) {
			_, _ = io.WriteString(c, "SMTP ready\r\n\r\n")
		}), ErrBadGateway},
		{"503", func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(fasthttp.StatusServiceUnavailable) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad, live := startBackend(t, tt.handler), startBackend(t, ok)
			s := newTestService(t, Options{
				Instances:  []string{bad.addr, live.addr},
				Balancer:   BalancerRoundRobin,
				Retries:    1,
				Timeout:    50 * time.Millisecond,
				EjectAfter: -1,
			})
			for range 2 {
				in, err, _ := doMethod(t, s, fasthttp.MethodGet, "")
				if in.Addr() == bad.addr && err != tt.want {
					t.Fatalf("Do on the bad instance: %v, want %v", err, tt.want)
				}
			}
			bad.assertHits(t, 1)
			live.assertHits(t, 1)
			assertInFlightZero(t, s)
		})
	}
}

// TestRetriesStopWhenEveryInstanceWasTried sends a GET to three dead
// instances with more retries than instances: each is tried once.
func TestRetriesStopWhenEveryInstanceWasTried(t *testing.T) {
	addrs := []string{refusedAddr(t), refusedAddr(t), refusedAddr(t)}
	s := newTestService(t, Options{Instances: addrs, Retries: 5, EjectAfter: -1})
	in, err, _ := doMethod(t, s, fasthttp.MethodGet, "")
	if err != ErrBadGateway || in == nil {
		t.Fatalf("Do = %v, %v; want the last instance tried and ErrBadGateway", in, err)
	}
	for _, in := range s.Instances() {
		if in.Requests() != 1 {
			t.Errorf("instance %s tried %d times, want once", in.Addr(), in.Requests())
		}
	}
}

// TestRetryNotForBodyStreams checks that a GET whose body is a stream is
// not retried: the first attempt consumed it.
func TestRetryNotForBodyStreams(t *testing.T) {
	live := startBackend(t, ok)
	dead := refusedAddr(t)
	s := newTestService(t, Options{Instances: []string{dead, live.addr}, Balancer: BalancerRoundRobin, Retries: 1, EjectAfter: -1})
	failures := 0
	for range 2 {
		req := newRequest(t, fasthttp.MethodGet, "/")
		req.SetBodyStream(bytes.NewReader([]byte("stream")), 6)
		if in, err := s.Do(req, newResponse(t), time.Now().Add(time.Second), 0); err != nil {
			if in.Addr() != dead {
				t.Fatalf("failed on %s: %v", in.Addr(), err)
			}
			failures++
		}
	}
	if failures != 1 {
		t.Errorf("%d of 2 streamed GETs failed, want the one sent to the dead instance", failures)
	}
	live.assertHits(t, 1)
}

// TestRetryUsesTheRemainingDeadline checks that a retry gets what is left
// of the caller's deadline, not a fresh one.
func TestRetryUsesTheRemainingDeadline(t *testing.T) {
	arrived := make(chan struct{}, 1)
	slow := startBackend(t, func(ctx *fasthttp.RequestCtx) {
		arrived <- struct{}{}
		time.Sleep(400 * time.Millisecond)
		ok(ctx)
	})
	dead := refusedAddr(t)
	s := newTestService(t, Options{Instances: []string{dead, slow.addr}, Balancer: BalancerRoundRobin, Retries: 1, EjectAfter: -1})
	for range 2 {
		start := time.Now()
		req := newRequest(t, fasthttp.MethodGet, "/")
		in, err := s.Do(req, newResponse(t), start.Add(100*time.Millisecond), 0)
		if err != ErrTimeout || in.Addr() != slow.addr {
			t.Fatalf("Do = %v, %v; want the slow instance and ErrTimeout", in, err)
		}
		if took := time.Since(start); took > 350*time.Millisecond {
			t.Errorf("Do took %v with a 100ms deadline", took)
		}
	}
	<-arrived
}
