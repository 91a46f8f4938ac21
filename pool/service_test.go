package pool

import (
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestNewRejectsInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no port", Options{Instances: []string{"127.0.0.1"}}, "want host:port"},
		{"no host", Options{Instances: []string{":80"}}, "empty host"},
		{"bad port", Options{Instances: []string{"h:http"}}, "not a number"},
		{"port zero", Options{Instances: []string{"h:0"}}, "not a number"},
		{"two in one", Options{Instances: []string{"a:1,b:2"}}, "single host:port"},
		{"duplicate", Options{Instances: []string{"a:1", "a:1"}}, "listed twice"},
		{"balancer", Options{Instances: []string{"a:1"}, Balancer: "random"}, "unknown balancer"},
		{"timeout", Options{Instances: []string{"a:1"}, Timeout: -1}, "negative timeout"},
		{"conns", Options{Instances: []string{"a:1"}, MaxConnsPerInstance: -1}, "negative max conns"},
		{"body", Options{Instances: []string{"a:1"}, MaxResponseBytes: -1}, "negative max response"},
		{"weight of a stranger", Options{Instances: []string{"a:1"}, Weights: map[string]int{"b:1": 2}}, "not one of the instances"},
		{"weight zero", Options{Instances: []string{"a:1"}, Weights: map[string]int{"a:1": 0}}, "want 1 to 65535"},
		{"weight too big", Options{Instances: []string{"a:1"}, Weights: map[string]int{"a:1": 70000}}, "want 1 to 65535"},
		{"hash without key", Options{Instances: []string{"a:1"}, Balancer: BalancerConsistentHash}, "needs HashOn"},
		{"bad hash key", Options{Instances: []string{"a:1"}, Balancer: BalancerConsistentHash, HashOn: "query:x"}, "want header:NAME"},
		{"retries", Options{Instances: []string{"a:1"}, Retries: -1}, "negative retries"},
		{"health path", Options{Instances: []string{"a:1"}, HealthCheck: &HealthCheck{Path: "health"}}, "starting with /"},
		{"health timeout", Options{Instances: []string{"a:1"},
			HealthCheck: &HealthCheck{Path: "/h", Interval: time.Second, Timeout: 2 * time.Second}}, "exceeds its interval"},
		{"health threshold", Options{Instances: []string{"a:1"},
			HealthCheck: &HealthCheck{Path: "/h", UnhealthyThreshold: -1}}, "negative unhealthy threshold"},
		{"error rate", Options{Instances: []string{"a:1"}, CircuitBreaker: &CircuitBreaker{ErrorRate: 1.5}}, "error rate"},
		{"probes", Options{Instances: []string{"a:1"}, CircuitBreaker: &CircuitBreaker{HalfOpenProbes: 5000}}, "at most 1000"},
		{"window", Options{Instances: []string{"a:1"}, CircuitBreaker: &CircuitBreaker{Window: -time.Second}}, "negative circuit breaker window"},
		{"both", Options{Instances: []string{"a:1"}, Discovery: &Discovery{Name: "_a._tcp.x"}}, "not both"},
		{"discovery name", Options{Discovery: &Discovery{}}, "needs a name"},
		{"srv name", Options{Discovery: &Discovery{Name: "_a._tcp.x:80"}}, "invalid SRV name"},
		{"host name", Options{Discovery: &Discovery{Name: "users.internal"}}, "want host:port"},
		{"resolver", Options{Discovery: &Discovery{Name: "_a._tcp.x", Resolver: "127.0.0.1"}}, "want host:port"},
		{"refresh", Options{Discovery: &Discovery{Name: "_a._tcp.x", Refresh: -1}}, "negative discovery refresh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Name = "users"
			s, err := New(tt.o)
			if err == nil {
				s.Close()
				t.Fatalf("New accepted %+v", tt.o)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `"users"`) {
				t.Errorf("error %q: want it to name the service and contain %q", err, tt.want)
			}
		})
	}
}

func TestNewConfiguresHostClients(t *testing.T) {
	s := newTestService(t, Options{Name: "users", Instances: []string{"10.0.0.1:80", "[::1]:8080"}})
	if s.Name() != "users" {
		t.Errorf("Name() = %q", s.Name())
	}
	if _, ok := s.snap.Load().bal.(leastConn); !ok {
		t.Errorf("default balancer is %T, want leastConn", s.snap.Load().bal)
	}
	ins := s.Instances()
	if len(ins) != 2 || ins[0].Addr() != "10.0.0.1:80" || ins[1].Addr() != "[::1]:8080" {
		t.Fatalf("Instances() = %v", ins)
	}
	c := ins[0].client
	checks := []struct {
		name      string
		got, want any
	}{
		{"Addr", c.Addr, "10.0.0.1:80"},
		{"MaxIdemponentCallAttempts", c.MaxIdemponentCallAttempts, 1},
		{"RetryIfErr set", c.RetryIfErr != nil, true},
		{"MaxConns", c.MaxConns, DefaultMaxConnsPerInstance},
		{"MaxConnWaitTimeout", c.MaxConnWaitTimeout, DefaultMaxConnWaitTimeout},
		{"ConnPoolStrategy", c.ConnPoolStrategy, fasthttp.LIFO},
		{"MaxIdleConnDuration", c.MaxIdleConnDuration, DefaultIdleConnTimeout},
		{"ReadTimeout", c.ReadTimeout, DefaultTimeout},
		{"WriteTimeout", c.WriteTimeout, DefaultTimeout},
		{"MaxResponseBodySize", c.MaxResponseBodySize, DefaultMaxResponseBytes},
		{"ReadBufferSize", c.ReadBufferSize, DefaultReadBufferSize},
		{"DisableHeaderNamesNormalizing", c.DisableHeaderNamesNormalizing, true},
		{"DisablePathNormalizing", c.DisablePathNormalizing, true},
		{"NoDefaultUserAgentHeader", c.NoDefaultUserAgentHeader, true},
		{"SecureErrorLogMessage", c.SecureErrorLogMessage, true},
		{"Name", c.Name, ""},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("HostClient.%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	for attempt := 1; attempt < 3; attempt++ {
		if reset, retry := c.RetryIfErr(nil, attempt, io.EOF); reset || retry {
			t.Errorf("RetryIfErr(attempt %d) = %v, %v; want no retry", attempt, reset, retry)
		}
	}

	// Instances hands out a copy: changing it leaves the service alone.
	ins[0] = nil
	if s.Instances()[0] == nil {
		t.Error("Instances() exposes the service's own slice")
	}
}

func TestNewBalancerChoice(t *testing.T) {
	tests := []struct {
		balancer  string
		instances []string
		want      string
	}{
		{"", []string{"a:1", "b:1"}, "leastConn"},
		{BalancerLeastConn, []string{"a:1", "b:1"}, "leastConn"},
		{BalancerRoundRobin, []string{"a:1", "b:1"}, "roundRobin"},
		{BalancerConsistentHash, []string{"a:1", "b:1"}, "hashRing"},
		{BalancerRoundRobin, []string{"a:1"}, "single"},
		{BalancerLeastConn, []string{"a:1"}, "single"},
		{BalancerConsistentHash, []string{"a:1"}, "single"},
		{BalancerRoundRobin, nil, "single"},
	}
	for _, tt := range tests {
		s := newTestService(t, Options{Instances: tt.instances, Balancer: tt.balancer, HashOn: "ip"})
		if got := typeName(s.snap.Load().bal); got != tt.want {
			t.Errorf("balancer %q with %d instances: got %s, want %s", tt.balancer, len(tt.instances), got, tt.want)
		}
	}
}

func typeName(b balancer) string {
	switch b.(type) {
	case single:
		return "single"
	case leastConn:
		return "leastConn"
	case *roundRobin:
		return "roundRobin"
	case *hashRing:
		return "hashRing"
	}
	return "unknown"
}

func TestDoForwardsAsSent(t *testing.T) {
	var gotPath, gotHeader, gotUA string
	b := startBackend(t, func(ctx *fasthttp.RequestCtx) {
		gotPath = string(ctx.Request.Header.RequestURI())
		gotUA = string(ctx.Request.Header.UserAgent())
		ctx.Request.Header.VisitAll(func(k, v []byte) {
			if strings.EqualFold(string(k), "x-request-id") {
				gotHeader = string(k)
			}
		})
		ctx.Response.Header.DisableNormalizing()
		ctx.Response.Header.Set("x-backend", "one")
		ctx.SetBodyString("hello")
	})
	s := newTestService(t, Options{Instances: []string{b.addr}})

	req := newRequest(t, fasthttp.MethodGet, "/a//b/../c%2Fd")
	req.Header.DisableNormalizing()
	req.Header.Set("x-request-id", "r1")
	resp := newResponse(t)
	in, err := s.Do(req, resp, time.Now().Add(time.Second), 0)
	if err != nil {
		t.Fatal(err)
	}
	if in.Addr() != b.addr {
		t.Errorf("instance %s, want %s", in.Addr(), b.addr)
	}
	if string(resp.Body()) != "hello" || resp.StatusCode() != fasthttp.StatusOK {
		t.Errorf("response %d %q", resp.StatusCode(), resp.Body())
	}
	if gotPath != "/a//b/../c%2Fd" {
		t.Errorf("backend saw path %q, want it as sent", gotPath)
	}
	if gotHeader != "x-request-id" {
		t.Errorf("backend saw header name %q, want it as sent", gotHeader)
	}
	if gotUA != "" {
		t.Errorf("backend saw User-Agent %q, want none added", gotUA)
	}
	var respHeader string
	resp.Header.VisitAll(func(k, v []byte) {
		if strings.EqualFold(string(k), "x-backend") {
			respHeader = string(k)
		}
	})
	if respHeader != "x-backend" {
		t.Errorf("response header name %q, want it as the backend sent it", respHeader)
	}
	if in.Requests() != 1 || in.Failures() != 0 {
		t.Errorf("requests %d failures %d, want 1 and 0", in.Requests(), in.Failures())
	}
	assertInFlightZero(t, s)
}

func TestLeastConnPrefersLessLoadedInstance(t *testing.T) {
	slow := startBackend(t, func(ctx *fasthttp.RequestCtx) {
		time.Sleep(25 * time.Millisecond)
		ok(ctx)
	})
	fast := startBackend(t, ok)
	s := newTestService(t, Options{Instances: []string{slow.addr, fast.addr}})

	const workers, perWorker = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			req := fasthttp.AcquireRequest()
			resp := fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("/")
			req.Header.SetHost("svc.test")
			for range perWorker {
				if _, err := s.Do(req, resp, time.Now().Add(5*time.Second), 0); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	nSlow, nFast := slow.hits.Load(), fast.hits.Load()
	t.Logf("slow instance: %d requests, fast instance: %d", nSlow, nFast)
	if nSlow+nFast != workers*perWorker {
		t.Fatalf("backends saw %d requests, want %d", nSlow+nFast, workers*perWorker)
	}
	// Round robin would give each 100. Least-connections sends the slow
	// instance a request only when it has no more in flight than the fast
	// one, which with 8 concurrent callers is rare.
	if nSlow*4 > nFast {
		t.Errorf("slow instance got %d of %d requests; want under a fifth", nSlow, nSlow+nFast)
	}
	ins := s.Instances()
	if ins[0].Requests() != uint64(nSlow) || ins[1].Requests() != uint64(nFast) {
		t.Errorf("instance counters %d/%d, backends saw %d/%d",
			ins[0].Requests(), ins[1].Requests(), nSlow, nFast)
	}
	assertInFlightZero(t, s)
}

func TestRoundRobinSpreadsEvenly(t *testing.T) {
	const instances, rounds = 3, 20
	var addrs []string
	var backends []*backend
	for range instances {
		b := startBackend(t, ok)
		backends = append(backends, b)
		addrs = append(addrs, b.addr)
	}
	s := newTestService(t, Options{Instances: addrs, Balancer: BalancerRoundRobin})

	req := newRequest(t, fasthttp.MethodGet, "/")
	resp := newResponse(t)
	// The rotation starts at a random instance, then takes turns.
	start := -1
	for i := range instances * rounds {
		in, err := s.Do(req, resp, time.Time{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if start < 0 {
			start = slices.Index(addrs, in.Addr())
		}
		if want := addrs[(start+i)%instances]; in.Addr() != want {
			t.Fatalf("call %d went to %s, want %s", i, in.Addr(), want)
		}
	}
	for _, b := range backends {
		if n := b.hits.Load(); n != rounds {
			t.Errorf("backend %s got %d requests, want %d", b.addr, n, rounds)
		}
	}
	assertInFlightZero(t, s)
}

func TestDoFailures(t *testing.T) {
	sleepy := func(d time.Duration) fasthttp.RequestHandler {
		return func(ctx *fasthttp.RequestCtx) { time.Sleep(d); ok(ctx) }
	}
	tests := []struct {
		name     string
		handler  fasthttp.RequestHandler // nil: nothing listens
		opts     Options
		deadline time.Duration // 0: none
		want     error
	}{
		{
			name: "connection refused",
			want: ErrBadGateway,
		},
		{
			name:     "backend sleeps past the deadline",
			handler:  sleepy(800 * time.Millisecond),
			deadline: 50 * time.Millisecond,
			want:     ErrTimeout,
		},
		{
			name:    "backend sleeps past the service timeout",
			handler: sleepy(800 * time.Millisecond),
			opts:    Options{Timeout: 50 * time.Millisecond},
			want:    ErrTimeout,
		},
		{
			name:     "backend sleeps past the service timeout before a later deadline",
			handler:  sleepy(800 * time.Millisecond),
			opts:     Options{Timeout: 50 * time.Millisecond},
			deadline: 5 * time.Second,
			want:     ErrTimeout,
		},
		{
			name:    "closed before the response",
			handler: hijack(func(net.Conn) {}),
			want:    ErrBadGateway,
		},
		{
			name: "closed mid-headers",
			handler: hijack(func(c net.Conn) {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Le")
			}),
			want: ErrBadGateway,
		},
		{
			name: "closed mid-body",
			handler: hijack(func(c net.Conn) {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
			}),
			want: ErrBadGateway,
		},
		{
			name: "closed mid-chunk",
			handler: hijack(func(c net.Conn) {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc")
			}),
			want: ErrBadGateway,
		},
		{
			name: "malformed status line",
			handler: hijack(func(c net.Conn) {
				_, _ = io.WriteString(c, "SMTP ready\r\n\r\n")
			}),
			want: ErrBadGateway,
		},
		{
			name: "conflicting framing",
			handler: hijack(func(c net.Conn) {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc")
			}),
			want: ErrBadGateway,
		},
		{
			name:    "body over MaxResponseBytes",
			handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBody(make([]byte, 2048)) },
			opts:    Options{MaxResponseBytes: 1024},
			want:    ErrBadGateway,
		},
		{
			name: "chunked body over MaxResponseBytes",
			handler: hijack(func(c net.Conn) {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n"+
					strings.Repeat("x", 2048)+"\r\n0\r\n\r\n")
			}),
			opts: Options{MaxResponseBytes: 1024},
			want: ErrBadGateway,
		},
		{
			name: "headers over ReadBufferSize",
			handler: func(ctx *fasthttp.RequestCtx) {
				ctx.Response.Header.Set("X-Big", strings.Repeat("x", 8192))
				ok(ctx)
			},
			opts: Options{ReadBufferSize: 4096},
			want: ErrBadGateway,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := refusedAddr(t)
			var b *backend
			if tt.handler != nil {
				b = startBackend(t, tt.handler)
				addr = b.addr
			}
			tt.opts.Instances = []string{addr}
			s := newTestService(t, tt.opts)

			var deadline time.Time
			if tt.deadline > 0 {
				deadline = time.Now().Add(tt.deadline)
			}
			req := newRequest(t, fasthttp.MethodGet, "/")
			resp := newResponse(t)
			start := time.Now()
			in, err := s.Do(req, resp, deadline, 0)
			elapsed := time.Since(start)

			if err != tt.want {
				t.Fatalf("Do error %v, want %v", err, tt.want)
			}
			if in == nil || in.Addr() != addr {
				t.Fatalf("Do returned instance %v, want %s", in, addr)
			}
			if in.Requests() != 1 || in.Failures() != 1 {
				t.Errorf("requests %d failures %d, want 1 and 1", in.Requests(), in.Failures())
			}
			if tt.want == ErrTimeout && elapsed > 500*time.Millisecond {
				t.Errorf("timed out after %v, want about 50ms, long before the backend answers", elapsed)
			}
			if b != nil {
				b.assertHits(t, 1)
			}
			assertInFlightZero(t, s)
		})
	}
}

func TestDoWithoutInstances(t *testing.T) {
	s := newTestService(t, Options{Name: "discovered"})
	if n := len(s.Instances()); n != 0 {
		t.Fatalf("%d instances, want none", n)
	}
	in, err := s.Do(newRequest(t, fasthttp.MethodGet, "/"), newResponse(t), time.Time{}, 0)
	if err != ErrUnavailable || in != nil {
		t.Fatalf("Do = %v, %v; want nil, ErrUnavailable", in, err)
	}
}

func TestDoPastDeadlineTriesNoInstance(t *testing.T) {
	b := startBackend(t, ok)
	s := newTestService(t, Options{Instances: []string{b.addr}})
	in, err := s.Do(newRequest(t, fasthttp.MethodGet, "/"), newResponse(t), time.Now().Add(-time.Millisecond), 0)
	if err != ErrTimeout || in != nil {
		t.Fatalf("Do = %v, %v; want nil, ErrTimeout", in, err)
	}
	if got := s.Instances()[0].Requests(); got != 0 || b.hits.Load() != 0 {
		t.Errorf("instance charged %d requests, backend saw %d; want none", got, b.hits.Load())
	}
}

// TestDoFullPool holds the only connection to an instance and checks that a
// second request waits MaxConnWaitTimeout and then gets ErrUnavailable, or
// ErrTimeout if its own deadline comes first.
func TestDoFullPool(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	b := startBackend(t, func(ctx *fasthttp.RequestCtx) {
		arrived <- struct{}{}
		<-release
		ok(ctx)
	})
	s := newTestService(t, Options{
		Instances:           []string{b.addr},
		MaxConnsPerInstance: 1,
		MaxConnWaitTimeout:  50 * time.Millisecond,
	})

	first := make(chan error, 1)
	go func() {
		req := fasthttp.AcquireRequest()
		resp := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("/")
		req.Header.SetHost("svc.test")
		_, err := s.Do(req, resp, time.Now().Add(5*time.Second), 0)
		first <- err
	}()
	<-arrived

	req := newRequest(t, fasthttp.MethodGet, "/")
	resp := newResponse(t)
	start := time.Now()
	in, err := s.Do(req, resp, time.Now().Add(5*time.Second), 0)
	if err != ErrUnavailable || in == nil {
		t.Errorf("Do on a full pool = %v, %v; want the instance and ErrUnavailable", in, err)
	}
	if waited := time.Since(start); waited < 40*time.Millisecond || waited > time.Second {
		t.Errorf("full pool answered after %v, want about MaxConnWaitTimeout (50ms)", waited)
	}

	in, err = s.Do(req, resp, time.Now().Add(10*time.Millisecond), 0)
	if err != ErrTimeout || in == nil {
		t.Errorf("Do on a full pool with a short deadline = %v, %v; want the instance and ErrTimeout", in, err)
	}

	if got := s.Instances()[0].InFlight(); got != 1 {
		t.Errorf("in flight %d while the first request is held, want 1", got)
	}
	close(release)
	if err := <-first; err != nil {
		t.Errorf("first request: %v", err)
	}
	ins := s.Instances()[0]
	// The full-pool refusal is not the instance's failure; the timeout is.
	if ins.Requests() != 3 || ins.Failures() != 1 {
		t.Errorf("requests %d failures %d, want 3 and 1", ins.Requests(), ins.Failures())
	}
	if b.hits.Load() != 1 {
		t.Errorf("backend saw %d requests, want 1", b.hits.Load())
	}
	assertInFlightZero(t, s)
}

// TestDoSendsOnce checks that a failed request reaches the backend exactly
// once whatever its method. fasthttp on its own would repeat GET, HEAD and
// PUT after a connection closed before the response.
func TestDoSendsOnce(t *testing.T) {
	failures := []struct {
		name    string
		handler fasthttp.RequestHandler
		opts    Options
		want    error
	}{
		{"closed before the response", hijack(func(net.Conn) {}), Options{}, ErrBadGateway},
		{"closed mid-response", hijack(func(c net.Conn) {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
		}), Options{}, ErrBadGateway},
		{"timeout", func(ctx *fasthttp.RequestCtx) { time.Sleep(200 * time.Millisecond) },
			Options{Timeout: 30 * time.Millisecond}, ErrTimeout},
	}
	methods := []string{fasthttp.MethodGet, fasthttp.MethodPut, fasthttp.MethodPost, fasthttp.MethodDelete}
	for _, f := range failures {
		for _, method := range methods {
			t.Run(f.name+"/"+method, func(t *testing.T) {
				b := startBackend(t, f.handler)
				f.opts.Instances = []string{b.addr}
				s := newTestService(t, f.opts)
				req := newRequest(t, method, "/orders")
				if method == fasthttp.MethodPost || method == fasthttp.MethodPut {
					req.SetBodyString(`{"amount":100}`)
				}
				_, err := s.Do(req, newResponse(t), time.Time{}, 0)
				if err != f.want {
					t.Fatalf("Do error %v, want %v", err, f.want)
				}
				b.assertHits(t, 1)
				assertInFlightZero(t, s)
			})
		}
	}
}

// TestInFlightUnderConcurrency mixes successes and failures from many
// goroutines and checks the counters agree with the backends afterwards.
func TestInFlightUnderConcurrency(t *testing.T) {
	good := startBackend(t, func(ctx *fasthttp.RequestCtx) {
		time.Sleep(time.Millisecond)
		ok(ctx)
	})
	bad := startBackend(t, hijack(func(net.Conn) {}))
	refused := refusedAddr(t)
	s := newTestService(t, Options{
		Instances: []string{good.addr, bad.addr, refused},
		Balancer:  BalancerRoundRobin,
		// Keep the failing instances in rotation: this test is about the
		// counters, and passive checks would soon spare them any traffic.
		EjectAfter: -1,
	})

	const workers, perWorker = 6, 30
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[error]int{}
	for range workers {
		wg.Go(func() {
			req := fasthttp.AcquireRequest()
			resp := fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("/")
			req.Header.SetHost("svc.test")
			for range perWorker {
				_, err := s.Do(req, resp, time.Now().Add(2*time.Second), 0)
				mu.Lock()
				seen[err]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	const total = workers * perWorker
	if seen[nil] != total/3 || seen[ErrBadGateway] != 2*total/3 {
		t.Errorf("outcomes %v, want %d successes and %d ErrBadGateway", seen, total/3, 2*total/3)
	}
	var requests, failures uint64
	for _, in := range s.Instances() {
		requests += in.Requests()
		failures += in.Failures()
	}
	if requests != total || failures != 2*total/3 {
		t.Errorf("counters: %d requests, %d failures; want %d and %d", requests, failures, total, 2*total/3)
	}
	assertInFlightZero(t, s)
}

func TestCloseKeepsServiceUsable(t *testing.T) {
	b := startBackend(t, ok)
	s := newTestService(t, Options{Instances: []string{b.addr}})
	req := newRequest(t, fasthttp.MethodGet, "/")
	resp := newResponse(t)
	for range 2 {
		if _, err := s.Do(req, resp, time.Time{}, 0); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s.Close()
	}
}

func TestOptionDefaults(t *testing.T) {
	hc := &HealthCheck{Path: "/health"}
	cb := &CircuitBreaker{}
	o, err := Options{Instances: []string{"a:1"}, HealthCheck: hc, CircuitBreaker: cb}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if *o.HealthCheck != (HealthCheck{"/health", DefaultHealthInterval, DefaultHealthTimeout, 2, 2}) {
		t.Errorf("health check defaults: %+v", *o.HealthCheck)
	}
	if *o.CircuitBreaker != (CircuitBreaker{DefaultBreakerWindow, DefaultMinRequests, DefaultErrorRate, DefaultOpenFor, DefaultHalfOpenProbes}) {
		t.Errorf("circuit breaker defaults: %+v", *o.CircuitBreaker)
	}
	if *hc != (HealthCheck{Path: "/health"}) || *cb != (CircuitBreaker{}) {
		t.Error("withDefaults changed the caller's structs")
	}
	if o.EjectAfter != DefaultUnhealthyThreshold || o.EjectFor != DefaultEjectFor || o.Balancer != BalancerLeastConn {
		t.Errorf("EjectAfter %d, EjectFor %v, Balancer %q", o.EjectAfter, o.EjectFor, o.Balancer)
	}

	// A short interval shortens the default timeout; the passive threshold
	// follows the active one.
	o, err = Options{Instances: []string{"a:1"},
		HealthCheck: &HealthCheck{Path: "/", Interval: time.Second, UnhealthyThreshold: 5}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.HealthCheck.Timeout != time.Second || o.EjectAfter != 5 {
		t.Errorf("timeout %v, EjectAfter %d; want 1s and 5", o.HealthCheck.Timeout, o.EjectAfter)
	}

	o, err = Options{Discovery: &Discovery{Name: "_users._tcp.example.internal"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.Discovery.Refresh != DefaultRefresh {
		t.Errorf("refresh %v, want %v", o.Discovery.Refresh, DefaultRefresh)
	}
}
