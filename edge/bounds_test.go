package edge

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestConfiguredBounds checks that the memory bounds a configuration sets
// reach the parts that keep per-client state: rate_limits.NAME.max_keys
// bounds a policy's keys and server.response_cache_bytes the response
// cache, under a stream of distinct clients and distinct URLs far larger
// than either. (The token caches' cache_entries are checked in jwtcache,
// and the whole gateway's heap under a million such requests by
// TestFloodMemory.)
func TestConfiguredBounds(t *testing.T) {
	const (
		maxKeys    = 1024
		cacheBytes = 1 << 20
		requests   = 8000
	)
	_, dial := memBackend(t, bytes.Repeat([]byte("x"), 1024))
	cfg := parseConfig(t, `
logging: { access_log: off }
server: { response_cache_bytes: `+strconv.Itoa(cacheBytes)+` }
rate_limits:
  per_client: { key: "header:X-Client", limit: 100, window: 1m, mode: local, max_keys: `+strconv.Itoa(maxKeys)+` }
services:
  users: { instances: ["10.0.0.1:80"], timeout: 5s }
routes:
  - { name: cached, match: { path: /cached, methods: [GET] }, service: users, rate_limit: [per_client], cache: { ttl: 1m } }
`, nil)
	gw, err := New(cfg, Options{Dial: dial})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })

	var ctx fasthttp.RequestCtx
	ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 40000}, nil)
	var buf []byte
	for i := range requests {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetHost("api.example.com")
		buf = strconv.AppendInt(append(buf[:0], "/cached?q="...), int64(i), 10)
		ctx.Request.SetRequestURIBytes(buf)
		buf = strconv.AppendInt(append(buf[:0], "client-"...), int64(i), 10)
		ctx.Request.Header.SetBytesV("X-Client", buf)
		gw.serve(&ctx)
		if s := ctx.Response.StatusCode(); s != 200 {
			t.Fatalf("request %d: status %d: %s", i, s, ctx.Response.Body())
		}
	}

	p := gw.current.Load().parts
	if keys := p.limiters["per_client"].limiter.Stats().Keys; keys > maxKeys || keys < maxKeys/2 {
		t.Errorf("rate limiter holds %d keys after %d distinct clients, want at most max_keys %d (and most of them)", keys, requests, maxKeys)
	}
	st := p.cache.Stats()
	if st.Bytes > cacheBytes || st.Evictions == 0 {
		t.Errorf("response cache holds %d bytes with %d evictions after %d distinct URLs, want at most %d", st.Bytes, st.Evictions, requests, cacheBytes)
	}
}
