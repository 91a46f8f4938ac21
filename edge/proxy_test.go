package edge

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

const routingConfig = `
services:
  a: { instances: ["{{a}}"], timeout: 2s }
  b: { instances: ["{{b}}"], timeout: 2s }
routes:
  - name: user-by-id
    match: { path: "/api/users/{id}", methods: [GET] }
    rewrite: "/v2/users/{id}"
    service: a
  - name: user-me
    match: { path: /api/users/me, methods: [GET] }
    service: b
  - name: files
    match: { path: "/files/{rest...}" }
    rewrite: "/store/{rest}"
    service: a
  - name: mobile
    match: { path: /feed, headers: { X-Client: mobile } }
    service: b
  - name: feed
    match: { path: /feed }
    service: a
  - name: v2-query
    match: { path: /search, query: { version: "2" } }
    service: b
  - name: search
    match: { path: /search, methods: [GET] }
    service: a
  - name: host-b
    match: { path: /site, host: api.example.com }
    service: b
  - name: site
    match: { path: /site }
    service: a
  - name: create
    match: { path: /items, methods: [POST, PUT] }
    service: a
    request_headers: { set: { X-Gateway: edge }, remove: [Cookie] }
    response_headers: { set: { X-Served-By: gateway }, remove: [X-Backend] }
`

func TestRouting(t *testing.T) {
	a, b := startBackend(t, "a"), startBackend(t, "b")
	f := startGateway(t, routingConfig, map[string]string{"a": a.addr, "b": b.addr})

	cases := []struct {
		name, method, path string
		headers            []string
		backend            string
		uri                string
	}{
		{"param and rewrite", "GET", "/api/users/42", nil, "a", "/v2/users/42"},
		{"static beats param", "GET", "/api/users/me", nil, "b", "/api/users/me"},
		{"catch-all rewrite keeps the query", "GET", "/files/a/b/c.txt?x=1&y=2", nil, "a", "/store/a/b/c.txt?x=1&y=2"},
		{"header predicate", "GET", "/feed", []string{"X-Client", "mobile"}, "b", "/feed"},
		{"header predicate fails: general route", "GET", "/feed", []string{"X-Client", "web"}, "a", "/feed"},
		{"query predicate", "GET", "/search?version=2&q=x", nil, "b", "/search?version=2&q=x"},
		{"query predicate fails", "GET", "/search?version=1", nil, "a", "/search?version=1"},
		{"host predicate", "GET", "/site", []string{"Host", "API.example.com:8080"}, "b", "/site"},
		{"other host", "GET", "/site", []string{"Host", "www.example.com"}, "a", "/site"},
		{"encoded space survives", "GET", "/files/a%20b", nil, "a", "/store/a%20b"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, c.method, f.base+c.path, "", c.headers...)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if got := r.header.Get("X-Backend"); got != c.backend {
				t.Fatalf("served by %q, want %q", got, c.backend)
			}
			var seen seenRequest
			if err := json.Unmarshal([]byte(r.body), &seen); err != nil {
				t.Fatal(err)
			}
			if seen.URI != c.uri {
				t.Fatalf("backend got %q, want %q", seen.URI, c.uri)
			}
		})
	}
}

func TestNoRouteAndMethodNotAllowed(t *testing.T) {
	a, b := startBackend(t, "a"), startBackend(t, "b")
	f := startGateway(t, routingConfig, map[string]string{"a": a.addr, "b": b.addr})

	wantError(t, do(t, "GET", f.base+"/nowhere", ""), 404, "no_route")
	r := do(t, "DELETE", f.base+"/items", "")
	wantError(t, r, 405, "method_not_allowed")
	if allow := r.header.Get("Allow"); allow != "POST, PUT" {
		t.Fatalf("Allow %q, want %q", allow, "POST, PUT")
	}
	// A param route allowing GET and a static one allowing GET: POST is 405.
	r = do(t, "POST", f.base+"/api/users/7", "x")
	wantError(t, r, 405, "method_not_allowed")
	if !strings.Contains(r.header.Get("Allow"), "GET") {
		t.Fatalf("Allow %q lacks GET", r.header.Get("Allow"))
	}
	if n := len(a.requests()) + len(b.requests()); n != 0 {
		t.Fatalf("backends received %d requests", n)
	}
}

func TestHeaderRulesAndHopByHop(t *testing.T) {
	a, b := startBackend(t, "a"), startBackend(t, "b")
	f := startGateway(t, routingConfig, map[string]string{"a": a.addr, "b": b.addr})
	a.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", "a")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("Connection", "X-Secret-Hop")
		w.Header().Set("X-Secret-Hop", "1")
		w.Header().Set("Proxy-Authenticate", "Basic")
		w.Header().Set("Upgrade", "h2c")
		w.WriteHeader(201)
		w.Write([]byte("created"))
	})

	r := do(t, "POST", f.base+"/items", "payload",
		"Cookie", "session=1",
		"Connection", "X-Drop-Me",
		"X-Drop-Me", "1",
		"Keep-Alive", "timeout=5",
		"Proxy-Authorization", "Basic Zm9vOmJhcg==",
		"Upgrade", "h2c",
		"TE", "trailers",
		"X-Keep", "yes",
	)
	if r.status != 201 || r.body != "created" {
		t.Fatalf("got %d %q", r.status, r.body)
	}
	got := a.last(t)
	if got.Body != "payload" {
		t.Fatalf("body %q", got.Body)
	}
	for _, h := range []string{"Cookie", "X-Drop-Me", "Keep-Alive", "Proxy-Authorization", "Upgrade", "Te"} {
		if v := got.Header.Get(h); v != "" {
			t.Errorf("backend received %s: %q", h, v)
		}
	}
	if got.Header.Get("X-Gateway") != "edge" || got.Header.Get("X-Keep") != "yes" {
		t.Errorf("request headers %v", got.Header)
	}
	for _, h := range []string{"X-Backend", "Keep-Alive", "X-Secret-Hop", "Proxy-Authenticate", "Upgrade"} {
		if v := r.header.Get(h); v != "" {
			t.Errorf("client received %s: %q", h, v)
		}
	}
	if r.header.Get("X-Served-By") != "gateway" {
		t.Errorf("response headers %v", r.header)
	}
}

func TestForwardedAndTraceHeaders(t *testing.T) {
	a, b := startBackend(t, "a"), startBackend(t, "b")
	f := startGateway(t, routingConfig, map[string]string{"a": a.addr, "b": b.addr})

	r := do(t, "GET", f.base+"/feed", "", "X-Forwarded-For", "203.0.113.9", "X-Trace-ID", "client-trace.1_A",
		"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "Host", "shop.example.com")
	got := a.last(t)
	if v := got.Header.Get("X-Forwarded-For"); v != "203.0.113.9, 127.0.0.1" {
		t.Errorf("X-Forwarded-For %q", v)
	}
	if v := got.Header.Get("X-Forwarded-Proto"); v != "http" {
		t.Errorf("X-Forwarded-Proto %q", v)
	}
	if v := got.Header.Get("X-Forwarded-Host"); v != "shop.example.com" {
		t.Errorf("X-Forwarded-Host %q", v)
	}
	if got.Host != "shop.example.com" {
		t.Errorf("Host %q", got.Host)
	}
	if v := got.Header.Get("X-Trace-Id"); v != "client-trace.1_A" {
		t.Errorf("backend trace id %q", v)
	}
	if v := r.header.Get("X-Trace-Id"); v != "client-trace.1_A" {
		t.Errorf("client trace id %q", v)
	}
	if v := got.Header.Get("Traceparent"); !strings.HasPrefix(v, "00-4bf92f") {
		t.Errorf("traceparent %q", v)
	}

	// An unsafe trace id is replaced by a fresh one, the same on both sides.
	for _, bad := range []string{"has space", strings.Repeat("x", 129), "semi;colon"} {
		r = do(t, "GET", f.base+"/feed", "", "X-Trace-ID", bad)
		got = a.last(t)
		id := got.Header.Get("X-Trace-Id")
		if id == bad || len(id) != 32 || r.header.Get("X-Trace-Id") != id {
			t.Errorf("trace id for %q: backend %q, client %q", bad, id, r.header.Get("X-Trace-Id"))
		}
	}
}

func TestSpoofedIdentityHeadersRemoved(t *testing.T) {
	t.Setenv("TEST_JWT_SECRET", "0123456789abcdef0123456789abcdef")
	a, b := startBackend(t, "a"), startBackend(t, "b")
	f := startGateway(t, routingConfig+`
auth:
  jwt:
    algorithms: [HS256]
    keys: [{ kid: k1, secret_env: TEST_JWT_SECRET }]
    claims_to_headers: { org: X-Org-ID }
`, map[string]string{"a": a.addr, "b": b.addr})
	r := do(t, "GET", f.base+"/feed", "",
		"X-User-ID", "admin", "x-tenant-id", "t1", "X-Roles", "admin", "X-Consumer-ID", "c", "X-Plan", "gold",
		"X_User_ID", "admin", "X-Org-ID", "evil", "X-Other", "kept")
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	got := a.last(t)
	for name := range got.Header {
		switch strings.ToLower(strings.ReplaceAll(name, "_", "-")) {
		case "x-user-id", "x-tenant-id", "x-roles", "x-consumer-id", "x-plan", "x-org-id":
			t.Errorf("backend received %s: %q", name, got.Header[name])
		}
	}
	if got.Header.Get("X-Other") != "kept" {
		t.Errorf("unrelated header lost")
	}
}

func TestUpstreamErrors(t *testing.T) {
	slow := startBackend(t, "slow")
	slow.setHandler(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(500 * time.Millisecond)
		w.Write([]byte("late"))
	})
	reset := startBackend(t, "reset")
	reset.setHandler(func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"))
		conn.Close()
	})
	f := startGateway(t, `
services:
  down:  { instances: ["{{down}}"] }
  slow:  { instances: ["{{slow}}"] }
  reset: { instances: ["{{reset}}"] }
routes:
  - { name: down,  match: { path: /down },  service: down }
  - { name: slow,  match: { path: /slow },  service: slow, timeout: 100ms }
  - { name: reset, match: { path: /reset }, service: reset }
`, map[string]string{"down": freeAddr(t), "slow": slow.addr, "reset": reset.addr})

	wantError(t, do(t, "GET", f.base+"/down", ""), 502, "bad_gateway")
	start := time.Now()
	wantError(t, do(t, "GET", f.base+"/slow", ""), 504, "upstream_timeout")
	if d := time.Since(start); d > 400*time.Millisecond {
		t.Errorf("timeout took %v", d)
	}
	e := wantError(t, do(t, "GET", f.base+"/reset", ""), 502, "bad_gateway")
	if strings.Contains(e.Error.Message, "short") || strings.Contains(e.Error.Message, "127.0.0.1") {
		t.Errorf("upstream details leaked: %q", e.Error.Message)
	}
}

func TestRequestLimits(t *testing.T) {
	a := startBackend(t, "a")
	f := startGateway(t, `
server: { max_body_bytes: 1024, max_header_bytes: 4096 }
services: { a: { instances: ["{{a}}"] } }
routes: [{ name: all, match: { path: "/{rest...}" }, service: a }]
`, map[string]string{"a": a.addr})

	wantError(t, do(t, "POST", f.base+"/x", strings.Repeat("b", 2048)), 413, "too_large")
	wantError(t, do(t, "GET", f.base+"/x", "", "X-Big", strings.Repeat("h", 8192)), 431, "too_large")
	if r := do(t, "POST", f.base+"/x", strings.Repeat("b", 1000)); r.status != 200 {
		t.Fatalf("body within limit: %d", r.status)
	}
	if n := len(a.requests()); n != 1 {
		t.Fatalf("backend saw %d requests, want 1", n)
	}
}

func TestAdminEndpoints(t *testing.T) {
	a := startBackend(t, "a")
	f := startGateway(t, `
services: { a: { instances: ["{{a}}"] } }
routes: [{ name: all, match: { path: "/{rest...}" }, service: a }]
`, map[string]string{"a": a.addr})
	do(t, "GET", f.base+"/x", "")
	do(t, "GET", f.base+"/x", "")
	admin := "http://" + f.gw.AdminAddr().String()
	if r := do(t, "GET", admin+"/healthz", ""); r.status != 200 {
		t.Fatalf("healthz %d", r.status)
	}
	if r := do(t, "GET", admin+"/readyz", ""); r.status != 200 {
		t.Fatalf("readyz %d", r.status)
	}
	m := do(t, "GET", admin+"/metrics", "").body
	for _, want := range []string{
		`gateway_requests_total{route="all",service="a",class="2xx"} 2`,
		`gateway_request_duration_seconds_count{route="all",service="a"} 2`,
		`gateway_upstream_requests_total{service="a",instance="` + a.addr + `"} 2`,
		`gateway_upstream_in_flight{service="a",instance="` + a.addr + `"} 0`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s\n%s", want, m)
		}
	}
}
