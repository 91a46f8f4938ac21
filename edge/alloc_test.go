//go:build !race

package edge

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestProxyAllocations pins the gateway's request path at zero
// allocations once warm: forwarding to a backend, and answering an error.
func TestProxyAllocations(t *testing.T) {
	_, dial := memBackend(t, []byte(`{"id":"42"}`))
	gw := benchGateway(t, benchConfig, dial, nil)
	for _, uri := range []string{"/api/users/42?x=1", "/nowhere"} {
		var ctx fasthttp.RequestCtx
		req := newBenchRequest(uri)
		ctx.Init(req, benchRemote, nil)
		for range 10 {
			serveOnce(gw, &ctx, req)
		}
		if n := testing.AllocsPerRun(200, func() { serveOnce(gw, &ctx, req) }); n != 0 {
			t.Errorf("%s: %.1f allocations per request, want 0", uri, n)
		}
	}
}

// TestProtectedProxyAllocations pins a route with a JWT check (cache hit)
// and a local rate limit at zero allocations too.
func TestProtectedProxyAllocations(t *testing.T) {
	_, dial := memBackend(t, []byte(`{"id":"42"}`))
	gw, req := benchAuthGateway(t, benchAuthConfig, dial)
	var ctx fasthttp.RequestCtx
	ctx.Init(req, benchRemote, nil)
	for range 10 {
		serveOnce(gw, &ctx, req)
	}
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	if n := testing.AllocsPerRun(200, func() { serveOnce(gw, &ctx, req) }); n != 0 {
		t.Errorf("%.1f allocations per request, want 0", n)
	}
}

// TestRateLimitedAllocations pins the 429 path at zero allocations: a
// flood of refused requests must not feed the garbage collector.
func TestRateLimitedAllocations(t *testing.T) {
	_, dial := memBackend(t, []byte(`{"id":"42"}`))
	gw, req := benchAuthGateway(t, strings.Replace(benchAuthConfig, "limit: 1000000000, window: 1s", "limit: 1, window: 1h", 1), dial)
	var ctx fasthttp.RequestCtx
	ctx.Init(req, benchRemote, nil)
	for range 10 {
		serveOnce(gw, &ctx, req)
	}
	if ctx.Response.StatusCode() != 429 {
		t.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	if n := testing.AllocsPerRun(200, func() { serveOnce(gw, &ctx, req) }); n != 0 {
		t.Errorf("%.1f allocations per refused request, want 0", n)
	}
}
