package edge

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pascaldekloe/jwt"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
	"go.uber.org/zap"

	"github.com/edgegate/gateway/edge/config"
)

// memBackend is a fasthttp server on an in-memory listener, so that the
// benchmarks measure the gateway, not the kernel's loopback.
func memBackend(tb testing.TB, body []byte) (*fasthttputil.InmemoryListener, fasthttp.DialFunc) {
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	}}
	go srv.Serve(ln)
	tb.Cleanup(func() { ln.Close() })
	return ln, func(string) (net.Conn, error) { return ln.Dial() }
}

const benchConfig = `
logging: { access_log: off }
services:
  users: { instances: ["10.0.0.1:80"], timeout: 2s }
routes:
  - name: users
    match: { path: "/api/users/{id}", methods: [GET] }
    rewrite: "/users/{id}"
    service: users
    request_headers: { set: { X-Gateway: edge } }
    response_headers: { remove: [Server] }
`

// benchGateway builds a gateway whose only service is the in-memory
// backend. The listeners are not started: requests go straight to serve.
func benchGateway(tb testing.TB, yaml string, dial fasthttp.DialFunc, accessLog *zap.Logger) *Gateway {
	tb.Helper()
	cfg, err := config.Parse([]byte(yaml), "bench.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	gw, err := New(cfg, Options{Dial: dial, AccessLog: accessLog})
	if err != nil {
		tb.Fatal(err)
	}
	return gw
}

func newBenchRequest(uri string) *fasthttp.Request {
	req := &fasthttp.Request{}
	req.SetRequestURI(uri)
	req.Header.SetHost("api.example.com")
	req.Header.Set("X-User-ID", "spoofed")
	req.Header.Set("User-Agent", "bench")
	return req
}

var benchRemote = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 40000}

// benchRequestCtx returns a request context for uri, after one request
// through gw that must succeed with want.
func benchRequestCtx(b *testing.B, gw *Gateway, uri string, want int) (*fasthttp.RequestCtx, *fasthttp.Request) {
	ctx := &fasthttp.RequestCtx{}
	req := newBenchRequest(uri)
	ctx.Init(req, benchRemote, nil)
	serveOnce(gw, ctx, req)
	if ctx.Response.StatusCode() != want {
		b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	return ctx, req
}

// serveOnce runs one request through the gateway's handler.
func serveOnce(gw *Gateway, ctx *fasthttp.RequestCtx, req *fasthttp.Request) {
	req.CopyTo(&ctx.Request)
	ctx.Response.Reset()
	gw.serve(ctx)
}

// BenchmarkProxy is the whole request path: match, header work, rewrite,
// forward to the in-memory backend, response clean-up. Compare it with
// BenchmarkDirect, the same exchange without the gateway: the difference
// is the gateway's own share.
func BenchmarkProxy(b *testing.B) {
	_, dial := memBackend(b, []byte(`{"id":"42","name":"Ada"}`))
	gw := benchGateway(b, benchConfig, dial, nil)
	ctx, req := benchRequestCtx(b, gw, "/api/users/42?fields=name", 200)
	b.ReportAllocs()
	for b.Loop() {
		serveOnce(gw, ctx, req)
	}
}

// BenchmarkProxyAccessLog is BenchmarkProxy with the access log on,
// writing to a discarded sink.
func BenchmarkProxyAccessLog(b *testing.B) {
	_, dial := memBackend(b, []byte(`{"id":"42","name":"Ada"}`))
	log, closeLog, err := NewAccessLog("/dev/null")
	if err != nil {
		b.Fatal(err)
	}
	defer closeLog()
	gw := benchGateway(b, benchConfig, dial, log)
	var ctx fasthttp.RequestCtx
	req := newBenchRequest("/api/users/42")
	ctx.Init(req, benchRemote, nil)
	b.ReportAllocs()
	for b.Loop() {
		serveOnce(gw, &ctx, req)
	}
}

// BenchmarkDirect is the baseline: a HostClient exchange with the same
// in-memory backend, no gateway.
func BenchmarkDirect(b *testing.B) {
	_, dial := memBackend(b, []byte(`{"id":"42","name":"Ada"}`))
	hc := &fasthttp.HostClient{Addr: "backend", Dial: dial}
	req := newBenchRequest("/users/42")
	var resp fasthttp.Response
	b.ReportAllocs()
	for b.Loop() {
		if err := hc.Do(req, &resp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNoRoute is the cost of answering 404 with the JSON error.
func BenchmarkNoRoute(b *testing.B) {
	_, dial := memBackend(b, nil)
	gw := benchGateway(b, benchConfig, dial, nil)
	var ctx fasthttp.RequestCtx
	req := newBenchRequest("/nowhere")
	ctx.Init(req, benchRemote, nil)
	b.ReportAllocs()
	for b.Loop() {
		serveOnce(gw, &ctx, req)
	}
}

// BenchmarkProxyLoopback is BenchmarkProxy over real TCP to a fasthttp
// backend on 127.0.0.1: the kernel's loopback is in the numbers.
func BenchmarkProxyLoopback(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"id":"42","name":"Ada"}`)
	}}
	go srv.Serve(ln)
	defer srv.Shutdown()
	gw := benchGateway(b, strings.Replace(benchConfig, "10.0.0.1:80", ln.Addr().String(), 1), nil, nil)
	ctx, req := benchRequestCtx(b, gw, "/api/users/42", 200)
	b.ReportAllocs()
	for b.Loop() {
		serveOnce(gw, ctx, req)
	}
}

// benchAuthConfig puts a JWT check and a local rate limit by user in
// front of the same route: the request path of a typical protected API.
const benchAuthConfig = `
logging: { access_log: off }
auth:
  jwt:
    algorithms: [HS256]
    keys: [{ kid: h1, alg: HS256, secret_env: BENCH_JWT_SECRET }]
    claims_to_headers: { sub: X-User-ID }
rate_limits:
  per_user: { key: user, limit: 1000000000, window: 1s, mode: local }
services:
  users: { instances: ["10.0.0.1:80"], timeout: 2s }
routes:
  - name: users
    match: { path: "/api/users/{id}", methods: [GET] }
    rewrite: "/users/{id}"
    service: users
    auth: [jwt]
    rate_limit: [per_user]
`

const benchJWTSecret = "bench-secret-0123456789abcdef0123"

// benchAuthGateway builds the gateway of benchAuthConfig and a request
// carrying a valid token.
func benchAuthGateway(tb testing.TB, yaml string, dial fasthttp.DialFunc) (*Gateway, *fasthttp.Request) {
	tb.Helper()
	tb.Setenv("BENCH_JWT_SECRET", benchJWTSecret)
	gw := benchGateway(tb, yaml, dial, nil)
	claims := jwt.Claims{KeyID: "h1"}
	claims.Subject = "user-1"
	claims.Expires = jwt.NewNumericTime(time.Now().Add(time.Hour))
	token, err := claims.HMACSign(jwt.HS256, []byte(benchJWTSecret))
	if err != nil {
		tb.Fatal(err)
	}
	req := newBenchRequest("/api/users/42")
	req.Header.Set("Authorization", "Bearer "+string(token))
	return gw, req
}

// BenchmarkProxyJWTLimit is BenchmarkProxy on a route that verifies a
// JWT (a cache hit after the first request) and charges a local rate
// limit by user.
func BenchmarkProxyJWTLimit(b *testing.B) {
	_, dial := memBackend(b, []byte(`{"id":"42","name":"Ada"}`))
	gw, req := benchAuthGateway(b, benchAuthConfig, dial)
	var ctx fasthttp.RequestCtx
	ctx.Init(req, benchRemote, nil)
	serveOnce(gw, &ctx, req)
	if ctx.Response.StatusCode() != 200 {
		b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	b.ReportAllocs()
	for b.Loop() {
		serveOnce(gw, &ctx, req)
	}
}

// BenchmarkRateLimited is the cost of a refusal: the route of
// BenchmarkProxyJWTLimit with its limit used up, so every request is
// verified (cache hit), charged and answered 429 without a backend call.
// Set against BenchmarkProxyJWTLimit it is what a flood of rejected
// requests costs the gateway per request, the kernel's share aside.
func BenchmarkRateLimited(b *testing.B) {
	_, dial := memBackend(b, []byte(`{"id":"42","name":"Ada"}`))
	gw, req := benchAuthGateway(b, strings.Replace(benchAuthConfig, "limit: 1000000000, window: 1s", "limit: 1, window: 1h", 1), dial)
	var ctx fasthttp.RequestCtx
	ctx.Init(req, benchRemote, nil)
	serveOnce(gw, &ctx, req)
	serveOnce(gw, &ctx, req)
	if ctx.Response.StatusCode() != 429 {
		b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	b.ReportAllocs()
	for b.Loop() {
		serveOnce(gw, &ctx, req)
	}
}
