package edge

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// End-to-end tests of the response cache and of compression: hits,
// expiry, vary by user, collapsed misses, what the backend forbids,
// stale answers while the circuit is open, and gzip / zstd / identity.

func TestCacheE2EHitAndExpiry(t *testing.T) {
	a := startBackend(t, "a")
	f := startGateway(t, `
services: { a: { instances: ["{{a}}"] } }
routes:
  - name: items
    match: { path: "/items/{id}", methods: [GET, HEAD, POST] }
    service: a
    cache: { ttl: 500ms }
`, map[string]string{"a": a.addr})
	get := func(path, xcache string, backendCount int) response {
		t.Helper()
		r := do(t, "GET", f.base+path, "")
		if r.status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		if got := r.header.Get("X-Cache"); got != xcache {
			t.Fatalf("GET %s: X-Cache %q, want %q", path, got, xcache)
		}
		p, _, _ := strings.Cut(path, "?")
		if n := poolCountPaths(a, "GET", p); n != backendCount {
			t.Fatalf("GET %s: backend saw %d, want %d", path, n, backendCount)
		}
		return r
	}

	first := get("/items/1", "MISS", 1)
	hit := get("/items/1", "HIT", 1)
	if hit.body != first.body || hit.header.Get("X-Backend") != "a" {
		t.Fatalf("hit differs from the stored response: %q %v", hit.body, hit.header)
	}
	if hit.header.Get("Age") == "" {
		t.Error("a hit without Age")
	}
	if hit.header.Get("X-Trace-ID") == "" || hit.header.Get("X-Trace-ID") == first.header.Get("X-Trace-ID") {
		t.Errorf("a hit needs its own trace id: %q after %q", hit.header.Get("X-Trace-ID"), first.header.Get("X-Trace-ID"))
	}
	// Another path and another query are other entries.
	get("/items/2", "MISS", 1)
	get("/items/1?v=2", "MISS", 2)
	// HEAD is answered from the fresh entry; POST always goes through.
	if r := do(t, "HEAD", f.base+"/items/1", ""); r.status != 200 || r.header.Get("X-Cache") != "HIT" {
		t.Fatalf("HEAD: %d X-Cache %q", r.status, r.header.Get("X-Cache"))
	}
	for range 2 {
		if r := do(t, "POST", f.base+"/items/1", "x"); r.status != 200 || r.header.Get("X-Cache") != "" {
			t.Fatalf("POST: %d X-Cache %q", r.status, r.header.Get("X-Cache"))
		}
	}
	if n := poolCountPaths(a, "POST", "/items/1"); n != 2 {
		t.Fatalf("backend saw %d POSTs, want 2", n)
	}

	time.Sleep(550 * time.Millisecond)
	get("/items/1", "MISS", 3)
	get("/items/1", "HIT", 3)
}

func TestCacheE2EVaryUser(t *testing.T) {
	t.Setenv(bffSecretEnv, bffSecret)
	a := bffStartJSON(t, "a", 0)
	f := startGateway(t, bffJWTAuth+`
services: { a: { instances: ["{{a}}"] } }
routes:
  - name: me
    match: { path: /me, methods: [GET] }
    service: a
    auth: [jwt]
    cache: { ttl: 10s, vary: [user] }
`, map[string]string{"a": a.addr})
	check := func(user, token, xcache string, calls int64) {
		t.Helper()
		r := do(t, "GET", f.base+"/me", "", "Authorization", "Bearer "+token)
		want := fmt.Sprintf(`{"from":"a","user":%q}`, user)
		if r.status != 200 || r.body != want {
			t.Fatalf("%s: got %d %s, want %s", user, r.status, r.body, want)
		}
		if got := r.header.Get("X-Cache"); got != xcache {
			t.Fatalf("%s: X-Cache %q, want %q", user, got, xcache)
		}
		if n := a.calls.Load(); n != calls {
			t.Fatalf("%s: backend called %d times, want %d", user, n, calls)
		}
	}
	now := time.Now()
	check("alice", bffToken("alice", now), "MISS", 1)
	check("bob", bffToken("bob", now), "MISS", 2)
	check("alice", bffToken("alice", now), "HIT", 2)
	check("bob", bffToken("bob", now), "HIT", 2)
	// The key holds the subject, not the token: a new token of alice's
	// finds her entry.
	check("alice", bffToken("alice", now.Add(-time.Second)), "HIT", 2)

	// No credential, or a forged one, never reaches the cache.
	wantError(t, do(t, "GET", f.base+"/me", ""), 401, "unauthorized")
	forged := bffToken("alice", now)
	forged = forged[:len(forged)-2] + "AA"
	wantError(t, do(t, "GET", f.base+"/me", "", "Authorization", "Bearer "+forged), 401, "unauthorized")
}

func TestCacheE2ECollapsedMisses(t *testing.T) {
	a := startBackend(t, "a")
	var calls atomic.Int64
	release := make(chan struct{})
	a.setHandler(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		time.Sleep(100 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"report":"expensive"}`))
	})
	f := startGateway(t, `
services: { a: { instances: ["{{a}}"] } }
routes:
  - name: report
    match: { path: /report, methods: [GET] }
    service: a
    cache: { ttl: 10s }
`, map[string]string{"a": a.addr})

	const n = 20
	results := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = do(t, "GET", f.base+"/report", "") })
	}
	// Hold the backend until every request has missed in the cache, so
	// that all twenty are in flight at once, then let it answer.
	poolEventually(t, 5*time.Second, "20 misses", func() bool {
		return strings.Contains(poolMetrics(t, f), `gateway_cache_lookups_total{result="miss"} 20`)
	})
	close(release)
	wg.Wait()

	for i, r := range results {
		if r.status != 200 || r.body != `{"report":"expensive"}` || r.header.Get("X-Cache") != "MISS" {
			t.Fatalf("response %d: %d X-Cache %q %s", i, r.status, r.header.Get("X-Cache"), r.body)
		}
	}
	if c := calls.Load(); c != 1 {
		t.Fatalf("backend called %d times for %d concurrent misses, want 1", c, n)
	}
	if m := poolMetrics(t, f); !strings.Contains(m, `gateway_cache_lookups_total{result="shared"} 19`) {
		t.Fatalf("want 19 shared look-ups\n%s", m)
	}
	if r := do(t, "GET", f.base+"/report", ""); r.header.Get("X-Cache") != "HIT" || calls.Load() != 1 {
		t.Fatalf("after the fill: X-Cache %q, %d backend calls", r.header.Get("X-Cache"), calls.Load())
	}
}

func TestCacheE2EBackendForbids(t *testing.T) {
	a := startBackend(t, "a")
	a.setHandler(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/no-store":
			w.Header().Set("Cache-Control", "no-store")
		case "/cookie":
			w.Header().Set("Set-Cookie", "s=1")
		case "/private":
			w.Header().Set("Cache-Control", "private")
		case "/max-age":
			w.Header().Set("Cache-Control", "max-age=0")
		case "/error":
			w.WriteHeader(500)
		}
		w.Write([]byte("body of " + r.URL.Path))
	})
	f := startGateway(t, `
services: { a: { instances: ["{{a}}"] } }
routes:
  - name: all
    match: { path: "/{rest...}", methods: [GET] }
    service: a
    cache: { ttl: 10s }
`, map[string]string{"a": a.addr})

	for _, path := range []string{"/no-store", "/cookie", "/private", "/max-age", "/error"} {
		for i := range 2 {
			r := do(t, "GET", f.base+path, "")
			if r.body != "body of "+path || r.header.Get("X-Cache") != "MISS" {
				t.Fatalf("%s #%d: %d X-Cache %q %q", path, i, r.status, r.header.Get("X-Cache"), r.body)
			}
		}
		if n := poolCountPaths(a, "GET", path); n != 2 {
			t.Fatalf("%s: backend saw %d requests, want 2", path, n)
		}
	}
	if r := do(t, "GET", f.base+"/no-store", ""); r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q lost", r.header.Get("Cache-Control"))
	}
}

func TestCacheE2EStaleWhileCircuitOpen(t *testing.T) {
	a := startBackend(t, "a")
	var failing atomic.Bool
	a.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(500)
			w.Write([]byte("broken"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"item":%q}`, r.URL.Path)
	})
	f := startGateway(t, `
services:
  a:
    instances: ["{{a}}"]
    circuit_breaker: { window: 10s, min_requests: 3, error_rate: 0.5, open_for: 10s }
routes:
  - name: items
    match: { path: "/items/{id}", methods: [GET, HEAD] }
    service: a
    cache: { ttl: 200ms }
`, map[string]string{"a": a.addr})

	r := do(t, "GET", f.base+"/items/1", "")
	if r.status != 200 || r.header.Get("X-Cache") != "MISS" {
		t.Fatalf("fill: %d X-Cache %q", r.status, r.header.Get("X-Cache"))
	}
	stored := r.body
	time.Sleep(250 * time.Millisecond)

	// The entry has expired. While the circuit is closed, the backend's
	// errors are relayed and do not replace the entry.
	failing.Store(true)
	for range 2 {
		if r := do(t, "GET", f.base+"/items/1", ""); r.status != 500 || r.body != "broken" {
			t.Fatalf("backend error: %d %q", r.status, r.body)
		}
	}
	if m := poolMetrics(t, f); !strings.Contains(m, `gateway_circuit_state{service="a",state="open"} 1`) {
		t.Fatalf("circuit not open\n%s", m)
	}
	seen := len(a.requests())

	// Open circuit: the stale entry instead of 503, for as long as it lasts.
	for range 3 {
		r := do(t, "GET", f.base+"/items/1", "")
		if r.status != 200 || r.body != stored || r.header.Get("X-Cache") != "STALE" {
			t.Fatalf("open circuit: %d X-Cache %q %q", r.status, r.header.Get("X-Cache"), r.body)
		}
		if r.header.Get("X-Trace-ID") == "" {
			t.Fatal("stale answer without X-Trace-ID")
		}
	}
	// HEAD is answered from the same entry.
	if r := do(t, "HEAD", f.base+"/items/1", ""); r.status != 200 || r.header.Get("X-Cache") != "STALE" || r.body != "" {
		t.Fatalf("HEAD with open circuit: %d X-Cache %q %q", r.status, r.header.Get("X-Cache"), r.body)
	}
	// Nothing cached: the 503 of the contract.
	wantError(t, do(t, "GET", f.base+"/items/2", ""), 503, "unavailable")
	if n := len(a.requests()); n != seen {
		t.Fatalf("backend saw %d requests while the circuit was open", n-seen)
	}
	if m := poolMetrics(t, f); !strings.Contains(m, `gateway_cache_lookups_total{result="stale"}`) {
		t.Fatalf("no stale look-ups counted\n%s", m)
	}
}

func TestCacheE2EStaleWhileNoInstanceHealthy(t *testing.T) {
	a := startBackend(t, "a")
	f := startGateway(t, `
services:
  a:
    instances: ["{{a}}"]
    health_check: { path: /health, interval: 100ms, timeout: 50ms, unhealthy_threshold: 2, healthy_threshold: 2 }
routes:
  - name: items
    match: { path: "/items/{id}", methods: [GET] }
    service: a
    cache: { ttl: 100ms }
`, map[string]string{"a": a.addr})

	r := do(t, "GET", f.base+"/items/1", "")
	if r.status != 200 || r.header.Get("X-Cache") != "MISS" {
		t.Fatalf("fill: %d X-Cache %q", r.status, r.header.Get("X-Cache"))
	}
	stored := r.body
	a.srv.Close()
	poolEventually(t, 3*time.Second, "a out of rotation", func() bool {
		return strings.Contains(poolMetrics(t, f), `gateway_upstream_healthy{service="a",instance="`+a.addr+`"} 0`)
	})
	time.Sleep(100 * time.Millisecond) // past the ttl, whatever the check took
	r = do(t, "GET", f.base+"/items/1", "")
	if r.status != 200 || r.body != stored || r.header.Get("X-Cache") != "STALE" {
		t.Fatalf("no healthy instance: %d X-Cache %q %q", r.status, r.header.Get("X-Cache"), r.body)
	}
	e := wantError(t, do(t, "GET", f.base+"/items/2", ""), 503, "unavailable")
	if strings.Contains(e.Error.Message, "circuit") {
		t.Errorf("message %q", e.Error.Message)
	}
}

// cacheJSON8K is an 8 KiB JSON array of records.
func cacheJSON8K() []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := 0; b.Len() < 8192; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"item %d","tags":["red","green"],"price":%d.99}`, i, i, i%100)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// cacheRawClient does not ask for or decode compression by itself.
var cacheRawClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true}}

func cacheGetRaw(t *testing.T, url, acceptEncoding string) response {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	resp, err := cacheRawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != int64(len(body)) {
		t.Fatalf("Content-Length %d, body %d bytes", resp.ContentLength, len(body))
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func TestCacheE2ECompression(t *testing.T) {
	payload := cacheJSON8K()
	a := startBackend(t, "a")
	a.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(payload)
	})
	f := startGateway(t, `
services: { a: { instances: ["{{a}}"] } }
routes:
  - name: plain
    match: { path: /plain, methods: [GET] }
    service: a
    compress: true
  - name: cached
    match: { path: /cached, methods: [GET] }
    service: a
    compress: true
    cache: { ttl: 10s }
`, map[string]string{"a": a.addr})
	zdec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zdec.Close()
	decode := func(r response) []byte {
		t.Helper()
		switch enc := r.header.Get("Content-Encoding"); enc {
		case "gzip":
			zr, err := gzip.NewReader(strings.NewReader(r.body))
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(zr)
			if err != nil {
				t.Fatalf("gzip body: %v", err)
			}
			return b
		case "zstd":
			b, err := zdec.DecodeAll([]byte(r.body), nil)
			if err != nil {
				t.Fatalf("zstd body: %v", err)
			}
			return b
		case "":
			return []byte(r.body)
		default:
			t.Fatalf("Content-Encoding %q", enc)
			return nil
		}
	}

	// The cached route first answers a gzip client from the backend, then
	// the others from the entry, which holds the identity body.
	for _, path := range []string{"/plain", "/cached"} {
		for _, c := range []struct{ accept, want string }{
			{"gzip", "gzip"},
			{"zstd", "zstd"},
			{"", ""},
			{"gzip;q=0.5, zstd", "zstd"},
			{"br", ""},
		} {
			r := cacheGetRaw(t, f.base+path, c.accept)
			if r.status != 200 {
				t.Fatalf("%s %q: status %d", path, c.accept, r.status)
			}
			if enc := r.header.Get("Content-Encoding"); enc != c.want {
				t.Fatalf("%s Accept-Encoding %q: Content-Encoding %q, want %q", path, c.accept, enc, c.want)
			}
			if c.want != "" && len(r.body) >= len(payload)/2 {
				t.Errorf("%s %s: %d bytes from %d", path, c.want, len(r.body), len(payload))
			}
			if !bytes.Equal(decode(r), payload) {
				t.Fatalf("%s %q: decoded body differs", path, c.accept)
			}
			if !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Accept-Encoding") {
				t.Fatalf("%s %q: Vary %q", path, c.accept, r.header.Values("Vary"))
			}
		}
	}
	if n := poolCountPaths(a, "GET", "/cached"); n != 1 {
		t.Fatalf("cached route: backend saw %d requests, want 1", n)
	}
}

// On a route that varies by user, a request without a subject (a token
// with no sub claim) has no user to key by: it must not share one entry
// with every other such request, whatever their other claims say.
func TestCacheE2EVaryUserWithoutSubject(t *testing.T) {
	t.Setenv(bffSecretEnv, bffSecret)
	a := startBackend(t, "a")
	var calls atomic.Int64
	a.setHandler(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "private")
		fmt.Fprintf(w, "tenant=%s user=%s", r.Header.Get("X-Tenant-ID"), r.Header.Get("X-User-ID"))
	})
	f := startGateway(t, `
auth:
  jwt:
    algorithms: [HS256]
    keys: [{ kid: bff-1, alg: HS256, secret_env: `+bffSecretEnv+` }]
    claims_to_headers: { sub: X-User-ID, tenant: X-Tenant-ID }
services: { a: { instances: ["{{a}}"] } }
routes:
  - name: me
    match: { path: /me, methods: [GET] }
    service: a
    auth: [jwt]
    cache: { ttl: 10s, vary: [user] }
`, map[string]string{"a": a.addr})
	exp := time.Now().Add(time.Minute).Unix()
	for _, tenant := range []string{"t1", "t2", "t1"} {
		token := bffSign(map[string]any{"tenant": tenant, "exp": exp})
		r := do(t, "GET", f.base+"/me", "", "Authorization", "Bearer "+token)
		if want := "tenant=" + tenant + " user="; r.status != 200 || r.body != want {
			t.Fatalf("token of %s without sub: got %d X-Cache %q %q, want %q",
				tenant, r.status, r.header.Get("X-Cache"), r.body, want)
		}
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("backend called %d times, want 3", n)
	}
	// Users with a subject are still cached.
	for range 2 {
		do(t, "GET", f.base+"/me", "", "Authorization", "Bearer "+bffSign(map[string]any{"sub": "u1", "tenant": "t1", "exp": exp}))
	}
	if n := calls.Load(); n != 4 {
		t.Fatalf("backend called %d times, want 4", n)
	}
}

// TestCacheE2ESplitSidesKeptApart pins the cache key of a route with a
// canary split: each side's answer is cached apart, so a client kept on
// the canary never gets the stable service's cached response.
func TestCacheE2ESplitSidesKeptApart(t *testing.T) {
	stable, canary := poolStartFastBackend(t, "stable"), poolStartFastBackend(t, "canary")
	f := startGateway(t, `
services:
  stable: { instances: ["{{stable}}"] }
  canary: { instances: ["{{canary}}"] }
routes:
  - name: api
    match: { path: "/api/{rest...}", methods: [GET] }
    service: stable
    split: [{ service: canary, weight: 50, hash_on: "header:X-User" }]
    cache: { ttl: 1m }
`, map[string]string{"stable": stable.addr, "canary": canary.addr})

	seen := map[string]bool{}
	for i := 0; i < 200 && len(seen) < 2; i++ {
		user := fmt.Sprintf("user-%d", i)
		first := do(t, "GET", f.base+"/api/item", "", "X-User", user)
		side := first.header.Get("X-Backend")
		again := do(t, "GET", f.base+"/api/item", "", "X-User", user)
		if got := again.header.Get("X-Backend"); got != side {
			t.Fatalf("%s: served by %s, then %s from the cache (X-Cache %q)", user, side, got, again.header.Get("X-Cache"))
		}
		seen[side] = true
	}
	if len(seen) != 2 {
		t.Fatalf("sides seen: %v; want both", seen)
	}
}
