package edge

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// End-to-end tests of the pools behind the gateway: canary split,
// consistent hashing, circuit breaker, health checks and retries, each
// through a real gateway on loopback in front of real backends.

// poolFastBackend is a minimal fasthttp backend for tests that send thousands
// of requests: it counts them and names itself in X-Backend.
type poolFastBackend struct {
	name string
	addr string
	hits atomic.Int64
}

func poolStartFastBackend(t testing.TB, name string) *poolFastBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fb := &poolFastBackend{name: name, addr: ln.Addr().String()}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		fb.hits.Add(1)
		ctx.Response.Header.Set("X-Backend", name)
		ctx.SetBodyString(name)
	}}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.ShutdownWithContext(ctx)
	})
	return fb
}

// poolHammer sends n GETs to url from workers goroutines over keep-alive
// connections. header, when set, adds the headers of request i. It returns
// the X-Backend of each response; any status but 200 fails the test.
func poolHammer(t *testing.T, n, workers int, url string, header func(i int, h *fasthttp.RequestHeader)) []string {
	t.Helper()
	client := &fasthttp.Client{
		MaxConnsPerHost: workers,
		ReadTimeout:     5 * time.Second,
		WriteTimeout:    5 * time.Second,
	}
	defer client.CloseIdleConnections()
	sides := make([]string, n)
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				req.Reset()
				req.SetRequestURI(url)
				if header != nil {
					header(i, &req.Header)
				}
				if err := client.Do(req, resp); err != nil {
					failed.Store(true)
					t.Errorf("request %d: %v", i, err)
					return
				}
				if resp.StatusCode() != 200 {
					failed.Store(true)
					t.Errorf("request %d: status %d: %s", i, resp.StatusCode(), resp.Body())
					return
				}
				sides[i] = string(resp.Header.Peek("X-Backend"))
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return sides
}

// poolMetrics returns the gateway's /metrics text.
func poolMetrics(t testing.TB, f *gatewayFixture) string {
	t.Helper()
	r := do(t, "GET", "http://"+f.gw.AdminAddr().String()+"/metrics", "")
	if r.status != 200 {
		t.Fatalf("metrics: status %d", r.status)
	}
	return r.body
}

// poolEventually polls cond every 10ms until it holds, failing the test after
// limit. It returns how long it took.
func poolEventually(t testing.TB, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// poolRestartBackend stops b and serves it again on the same address.
func poolRestartBackend(t testing.TB, b *backend) {
	t.Helper()
	var ln net.Listener
	var err error
	// The port was just released; another process could take it, but on
	// loopback in a test run that does not happen in practice. Retry
	// briefly in case the kernel is slow to let go of it.
	for range 50 {
		if ln, err = net.Listen("tcp", b.addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen again on %s: %v", b.addr, err)
	}
	b.srv = &http.Server{Handler: http.HandlerFunc(b.serve), ReadHeaderTimeout: 5 * time.Second}
	go b.srv.Serve(ln)
}

// poolCountPaths counts the requests b received for path (query excluded).
func poolCountPaths(b *backend, method, path string) int {
	n := 0
	for _, s := range b.requests() {
		p, _, _ := strings.Cut(s.URI, "?")
		if s.Method == method && p == path {
			n++
		}
	}
	return n
}

func TestPoolE2ECanaryShare(t *testing.T) {
	stable, canary := poolStartFastBackend(t, "stable"), poolStartFastBackend(t, "canary")
	f := startGateway(t, `
services:
  stable: { instances: ["{{stable}}"] }
  canary: { instances: ["{{canary}}"] }
routes:
  - name: api
    match: { path: "/api/{rest...}" }
    service: stable
    split: [{ service: canary, weight: 5 }]
`, map[string]string{"stable": stable.addr, "canary": canary.addr})

	const n = 20000
	sides := poolHammer(t, n, 8, f.base+"/api/orders", nil)
	onCanary := 0
	for _, s := range sides {
		switch s {
		case "canary":
			onCanary++
		case "stable":
		default:
			t.Fatalf("response from %q", s)
		}
	}
	if got := stable.hits.Load() + canary.hits.Load(); got != n {
		t.Fatalf("backends saw %d requests, want %d", got, n)
	}
	if int64(onCanary) != canary.hits.Load() {
		t.Fatalf("%d responses from the canary, which saw %d", onCanary, canary.hits.Load())
	}
	share := 100 * float64(onCanary) / n
	t.Logf("canary share %.2f%%", share)
	if share < 4 || share > 6 {
		t.Fatalf("canary share %.2f%%, want 5 ± 1", share)
	}
}

func TestPoolE2ECanaryStickyByHeader(t *testing.T) {
	stable, canary := poolStartFastBackend(t, "stable"), poolStartFastBackend(t, "canary")
	f := startGateway(t, `
services:
  stable: { instances: ["{{stable}}"] }
  canary: { instances: ["{{canary}}"] }
routes:
  - name: api
    match: { path: "/api/{rest...}" }
    service: stable
    split: [{ service: canary, weight: 5, hash_on: "header:X-User" }]
`, map[string]string{"stable": stable.addr, "canary": canary.addr})

	// Every user twice, the second round in another order and on other
	// connections, so that nothing but the header can keep them together.
	const users = 3000
	user := func(i int) string { return fmt.Sprintf("user-%d", i%users) }
	sides := poolHammer(t, 2*users, 8, f.base+"/api/cart", func(i int, h *fasthttp.RequestHeader) {
		if i >= users {
			i = users + (users - 1 - (i - users))
		}
		h.Set("X-User", user(i))
	})
	first := make(map[string]string, users)
	for i := range users {
		first[user(i)] = sides[i]
	}
	onCanary := 0
	for i := users; i < 2*users; i++ {
		u := user(users + (users - 1 - (i - users)))
		if sides[i] != first[u] {
			t.Fatalf("%s went to %s, then to %s", u, first[u], sides[i])
		}
	}
	for _, s := range first {
		if s == "canary" {
			onCanary++
		}
	}
	share := 100 * float64(onCanary) / users
	t.Logf("%d of %d users on the canary (%.2f%%)", onCanary, users, share)
	if share < 3 || share > 7 {
		t.Fatalf("%.2f%% of users on the canary, want about 5", share)
	}

	// A user on the canary stays there request after request.
	var canaryUser string
	for u, s := range first {
		if s == "canary" {
			canaryUser = u
			break
		}
	}
	for range 20 {
		if r := do(t, "GET", f.base+"/api/cart", "", "X-User", canaryUser); r.header.Get("X-Backend") != "canary" {
			t.Fatalf("%s moved to %q", canaryUser, r.header.Get("X-Backend"))
		}
	}
}

func TestPoolE2EConsistentHash(t *testing.T) {
	bs := []*backend{startBackend(t, "i0"), startBackend(t, "i1"), startBackend(t, "i2")}
	f := startGateway(t, `
services:
  carts:
    instances: ["{{i0}}", "{{i1}}", "{{i2}}"]
    balancer: consistent_hash
    hash_on: header:X-Cart-ID
routes: [{ name: all, match: { path: "/{rest...}" }, service: carts }]
`, map[string]string{"i0": bs[0].addr, "i1": bs[1].addr, "i2": bs[2].addr})

	where := make(map[string]string)
	used := make(map[string]int)
	for round := range 4 {
		for s := range 60 {
			id := fmt.Sprintf("cart-%d", s)
			r := do(t, "GET", f.base+"/cart", "", "X-Cart-ID", id)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			got := r.header.Get("X-Backend")
			if round == 0 {
				where[id] = got
				used[got]++
			} else if where[id] != got {
				t.Fatalf("%s on %s, then on %s", id, where[id], got)
			}
		}
	}
	if len(used) < 2 {
		t.Fatalf("60 carts all on one instance: %v", used)
	}
	t.Logf("carts per instance: %v", used)
}

func TestPoolE2ECircuitBreaker(t *testing.T) {
	a := startBackend(t, "a")
	var failing atomic.Bool
	failing.Store(true)
	a.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(500)
			w.Write([]byte("backend broke"))
			return
		}
		w.Write([]byte("ok"))
	})
	f := startGateway(t, `
services:
  flaky:
    instances: ["{{a}}"]
    circuit_breaker: { window: 10s, min_requests: 5, error_rate: 0.5, open_for: 300ms }
routes: [{ name: all, match: { path: "/{rest...}" }, service: flaky }]
`, map[string]string{"a": a.addr})
	state := func(st string) string {
		return `gateway_circuit_state{service="flaky",state="` + st + `"} 1`
	}

	// min_requests failures are relayed as the backend sent them.
	for i := range 5 {
		if r := do(t, "GET", f.base+"/x", ""); r.status != 500 || r.body != "backend broke" {
			t.Fatalf("request %d: %d %q", i, r.status, r.body)
		}
	}
	// Then the circuit is open: 503 without reaching the backend.
	for range 5 {
		e := wantError(t, do(t, "GET", f.base+"/x", ""), 503, "unavailable")
		if !strings.Contains(e.Error.Message, "circuit") {
			t.Errorf("message %q", e.Error.Message)
		}
	}
	if n := len(a.requests()); n != 5 {
		t.Fatalf("backend saw %d requests, want 5", n)
	}
	if m := poolMetrics(t, f); !strings.Contains(m, state("open")) {
		t.Fatalf("metrics lack %s\n%s", state("open"), m)
	}

	// After open_for a probe goes through; a failing one reopens.
	time.Sleep(350 * time.Millisecond)
	if m := poolMetrics(t, f); !strings.Contains(m, state("half_open")) {
		t.Fatalf("metrics lack %s\n%s", state("half_open"), m)
	}
	if r := do(t, "GET", f.base+"/x", ""); r.status != 500 {
		t.Fatalf("probe: %d %q", r.status, r.body)
	}
	wantError(t, do(t, "GET", f.base+"/x", ""), 503, "unavailable")
	if n := len(a.requests()); n != 6 {
		t.Fatalf("backend saw %d requests, want 6", n)
	}

	// The backend recovers: after open_for the probes succeed and close it.
	failing.Store(false)
	time.Sleep(350 * time.Millisecond)
	for i := range 10 {
		if r := do(t, "GET", f.base+"/x", ""); r.status != 200 || r.body != "ok" {
			t.Fatalf("request %d after recovery: %d %q", i, r.status, r.body)
		}
	}
	if n := len(a.requests()); n != 16 {
		t.Fatalf("backend saw %d requests, want 16", n)
	}
	m := poolMetrics(t, f)
	if !strings.Contains(m, state("closed")) || !strings.Contains(m, `gateway_circuit_state{service="flaky",state="open"} 0`) {
		t.Fatalf("circuit not closed\n%s", m)
	}
}

func TestPoolE2EHealthChecks(t *testing.T) {
	a, b := startBackend(t, "a"), startBackend(t, "b")
	f := startGateway(t, `
services:
  users:
    instances: ["{{a}}", "{{b}}"]
    balancer: round_robin
    retries: 1
    health_check: { path: /health, interval: 100ms, timeout: 50ms, unhealthy_threshold: 2, healthy_threshold: 2 }
routes: [{ name: all, match: { path: "/{rest...}" }, service: users }]
`, map[string]string{"a": a.addr, "b": b.addr})
	healthy := func(addr string, v int) string {
		return fmt.Sprintf(`gateway_upstream_healthy{service="users",instance="%s"} %d`, addr, v)
	}
	get := func(n int) map[string]int {
		t.Helper()
		by := make(map[string]int)
		for range n {
			r := do(t, "GET", f.base+"/users", "")
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			by[r.header.Get("X-Backend")]++
		}
		return by
	}
	if by := get(10); by["a"] == 0 || by["b"] == 0 {
		t.Fatalf("both instances should serve: %v", by)
	}
	poolEventually(t, 2*time.Second, "health checks reach both", func() bool {
		return poolCountPaths(a, "GET", "/health") > 0 && poolCountPaths(b, "GET", "/health") > 0
	})

	// a stops, with no traffic: only the active checks can notice.
	// interval × unhealthy_threshold is 200ms; allow for a loaded machine.
	a.srv.Close()
	took := poolEventually(t, 3*time.Second, "a out of rotation", func() bool {
		return strings.Contains(poolMetrics(t, f), healthy(a.addr, 0))
	})
	t.Logf("a left rotation after %v", took)
	if took > time.Second {
		t.Errorf("a left rotation after %v, want about 200ms", took)
	}
	if by := get(20); by["b"] != 20 {
		t.Fatalf("with a out: %v", by)
	}

	// a comes back: healthy_threshold passing checks bring it in again.
	poolRestartBackend(t, a)
	poolEventually(t, 3*time.Second, "a back in rotation", func() bool {
		return strings.Contains(poolMetrics(t, f), healthy(a.addr, 1))
	})
	if by := get(10); by["a"] == 0 || by["b"] == 0 {
		t.Fatalf("both instances should serve again: %v", by)
	}

	// b stops under traffic: before any check notices, the retry takes
	// each request that meets b to a, so no client sees an error.
	b.srv.Close()
	if by := get(30); by["a"] != 30 {
		t.Fatalf("with b stopped: %v", by)
	}
	poolEventually(t, 3*time.Second, "b out of rotation", func() bool {
		return strings.Contains(poolMetrics(t, f), healthy(b.addr, 0))
	})
}

func TestPoolE2ERetries(t *testing.T) {
	good, reset := startBackend(t, "good"), startBackend(t, "reset")
	reset.setHandler(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	f := startGateway(t, `
services:
  users:
    instances: ["{{good}}", "{{reset}}"]
    balancer: round_robin
    retries: 1
routes: [{ name: all, match: { path: "/{rest...}" }, service: users }]
`, map[string]string{"good": good.addr, "reset": reset.addr})

	// POSTs alternate between the instances. The one that meets the reset
	// is answered 502 and is not sent again anywhere.
	posts, bad := 0, 0
	for poolCountPaths(reset, "POST", "/orders") == 0 {
		if posts == 4 {
			t.Fatal("round robin never sent a POST to the resetting instance")
		}
		posts++
		r := do(t, "POST", f.base+"/orders", `{"n":1}`)
		if r.status == 502 {
			wantError(t, r, 502, "bad_gateway")
			bad++
		} else if r.status != 200 || r.header.Get("X-Backend") != "good" {
			t.Fatalf("POST: %d from %q", r.status, r.header.Get("X-Backend"))
		}
	}
	if n := poolCountPaths(reset, "POST", "/orders"); n != 1 || bad != 1 {
		t.Fatalf("resetting instance saw %d POSTs, clients got %d 502s; want 1 and 1", n, bad)
	}
	if n := poolCountPaths(good, "POST", "/orders"); n != posts-1 {
		t.Fatalf("good instance saw %d POSTs, want %d: a POST was sent twice", n, posts-1)
	}

	// GETs that meet the reset are retried on the other instance.
	for i := range 10 {
		r := do(t, "GET", f.base+"/orders", "")
		if r.status != 200 || r.header.Get("X-Backend") != "good" {
			t.Fatalf("GET %d: %d from %q: %s", i, r.status, r.header.Get("X-Backend"), r.body)
		}
	}
	if n := poolCountPaths(reset, "GET", "/orders"); n == 0 {
		t.Fatal("no GET met the resetting instance: the retry was not exercised")
	}
	if n := poolCountPaths(good, "GET", "/orders"); n != 10 {
		t.Fatalf("good instance saw %d GETs, want 10", n)
	}
}
