//go:build !race

package edge

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/pascaldekloe/jwt"
	"github.com/valyala/fasthttp"

	"github.com/edgegate/gateway/jwtcache"
)

// floodConfig has one route per kind of per-client state the gateway
// keeps: API key look-ups, verified tokens, rate-limit buckets and cached
// responses. Every route charges the per-IP policy, so that every request
// of the flood, from its own address, adds a limiter key.
const floodConfig = `
logging: { access_log: off }
auth:
  jwt:
    algorithms: [HS256]
    keys: [{ kid: f1, alg: HS256, secret_env: FLOOD_JWT_SECRET }]
    claims_to_headers: { sub: X-User-ID }
    cache_entries: 1000
  api_keys: { source: file, file: "{{keys}}" }
rate_limits:
  per_ip: { key: ip, limit: 1000, window: 100ms, mode: local }
services:
  users: { instances: ["10.0.0.1:80"], timeout: 5s }
routes:
  - { name: keyed, match: { path: /keyed, methods: [GET] }, service: users, auth: [api_key], rate_limit: [per_ip] }
  - { name: token, match: { path: /token, methods: [GET] }, service: users, auth: [jwt], rate_limit: [per_ip] }
  - { name: open, match: { path: /open, methods: [GET] }, service: users, rate_limit: [per_ip] }
  - { name: cached, match: { path: /cached, methods: [GET] }, service: users, rate_limit: [per_ip], cache: { ttl: 1m } }
`

const floodJWTSecret = "flood-secret-0123456789abcdef0123"

// Flood sizes. Every fifth token request carries one of floodValidTokens
// genuine tokens, ten times cache_entries, so the verified-token cache
// turns over; every hundredth API key is one of floodValidKeys.
const (
	floodRequests    = 1_000_000
	floodShort       = 200_000
	floodValidTokens = 10_000
	floodValidKeys   = 10
	floodSamples     = 10
)

// The bound on the live heap the flood may add, with the arithmetic.
//
//	response cache   64 MiB   respcache.DefaultMaxBytes; entry sizes
//	                          count their bytes plus a 256-byte overhead.
//	                 16 MiB   for what the overhead estimate misses: the
//	                          shards' maps and key strings of ~15,000
//	                          entries of ~4.4 KiB (about 350 B each).
//	verified tokens   1 MiB   cache_entries 1000 × ~1 KiB (token bytes,
//	                          shared Identity, its header, the entry).
//	limiter keys     64 MiB   limiter.DefaultMaxKeys 1,000,000 × 64 B
//	                          (a 32-byte slot and a map entry of ~24 B, with
//	                          the map's spare room), the worst case of a
//	                          million addresses inside one window. With the
//	                          100ms window, idle keys are dropped as new
//	                          ones come, so far fewer stay.
//	slack            15 MiB   pooled request state, fasthttp buffers, the
//	                          GC's own timing.
//	                -------
//	                160 MiB
const floodHeapBound = 160 << 20

// floodGrowthSlack is how much the live heap may still rise between the
// middle and the end of the flood. By the middle every bounded structure
// is full (the response cache after ~15,000 cached requests, the token
// cache after 1000 genuine tokens); what moves afterwards is the
// limiter's live set, which follows the request rate of the last 100ms.
const floodGrowthSlack = 12 << 20

// TestFloodMemory drives a million requests through the handler, each
// from a new client address, with a new API key, a new token or a new
// query string, and checks that the live heap stays bounded and stops
// growing once the bounded caches are full. The requests go straight to
// the handler, as in the benchmarks; the backend is in memory.
func TestFloodMemory(t *testing.T) {
	n := floodRequests
	if testing.Short() {
		n = floodShort
	}
	t.Setenv("FLOOD_JWT_SECRET", floodJWTSecret)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "keys.yaml")
	store := jwtcache.NewFileStore(keyFile)
	validKeys := make([][]byte, floodValidKeys)
	for i := range validKeys {
		raw, _, err := jwtcache.Issue(context.Background(), store, "consumer-"+strconv.Itoa(i), "gold", 0, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		validKeys[i] = []byte(raw)
	}
	validTokens := floodTokens(t)

	// A body of about 4 KiB makes the response cache reach its byte bound
	// after some 15,000 cached responses, 60,000 requests: well before the
	// middle of the flood, short or not.
	_, dial := memBackend(t, bytes.Repeat([]byte(`{"k":"0123456789abcdef0123456789"},`), 112))
	cfg := parseConfig(t, floodConfig, map[string]string{"keys": keyFile})
	gw, err := New(cfg, Options{Dial: dial})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })

	f := &flood{gw: gw, validKeys: validKeys, validTokens: validTokens}
	f.addr = &net.TCPAddr{IP: make(net.IP, 4), Port: 40000}
	f.ctx.Init(&fasthttp.Request{}, f.addr, nil)
	for i := range 400 { // warm the pools and connections
		f.serve(i)
	}
	f.statuses = map[int]int{}

	baseline := liveHeap()
	samples := make([]uint64, 0, floodSamples)
	start := time.Now()
	for i := range n {
		f.serve(400 + i)
		if (i+1)%(n/floodSamples) == 0 {
			samples = append(samples, liveHeap())
		}
	}
	t.Logf("%d requests in %v; statuses %v", n, time.Since(start).Round(time.Millisecond), f.statuses)
	t.Logf("live heap: baseline %s, samples %s", mib(baseline), mibs(samples))

	f.checkStatuses(t, n)
	peak := baseline
	for _, s := range samples {
		peak = max(peak, s)
	}
	if peak-baseline > floodHeapBound {
		t.Errorf("live heap grew by %s, above the bound of %s", mib(peak-baseline), mib(floodHeapBound))
	}
	mid := samples[len(samples)/2-1]
	for _, s := range samples[len(samples)/2:] {
		if s > mid+floodGrowthSlack {
			t.Errorf("live heap still growing in the second half: %s at the middle, then %s", mib(mid), mib(s))
			break
		}
	}
}

// flood generates and serves the requests of TestFloodMemory.
type flood struct {
	gw          *Gateway
	ctx         fasthttp.RequestCtx
	addr        *net.TCPAddr
	validKeys   [][]byte
	validTokens [][]byte
	buf         []byte
	statuses    map[int]int
}

// floodTokenHeader is the JOSE header of the made-up tokens.
var floodTokenHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"f1"}`))

// serve sends request i: round robin over the four routes, from client
// address 10.0.0.0 + i.
func (f *flood) serve(i int) {
	binary.BigEndian.PutUint32(f.addr.IP, 10<<24+uint32(i))
	req := &f.ctx.Request
	req.Reset()
	req.Header.SetHost("api.example.com")
	k := i / 4
	switch i % 4 {
	case 0:
		req.SetRequestURI("/keyed")
		if k%100 == 0 {
			req.Header.SetBytesV("X-API-Key", f.validKeys[k/100%len(f.validKeys)])
		} else {
			f.buf = strconv.AppendInt(append(f.buf[:0], "gw_not-a-key-"...), int64(k), 10)
			req.Header.SetBytesV("X-API-Key", f.buf)
		}
	case 1:
		req.SetRequestURI("/token")
		f.buf = append(f.buf[:0], "Bearer "...)
		if k%5 == 0 {
			f.buf = append(f.buf, f.validTokens[k/5%len(f.validTokens)]...)
		} else {
			// The shape of a genuine token, signed by nobody: a new one
			// each time, refused at the signature.
			payload := fmt.Sprintf(`{"sub":"user-%d","exp":%d}`, k, time.Now().Add(time.Hour).Unix())
			f.buf = append(f.buf, floodTokenHeader...)
			f.buf = append(f.buf, '.')
			f.buf = base64.RawURLEncoding.AppendEncode(f.buf, []byte(payload))
			f.buf = append(f.buf, '.')
			var sig [32]byte
			binary.BigEndian.PutUint64(sig[:], uint64(k))
			f.buf = base64.RawURLEncoding.AppendEncode(f.buf, sig[:])
		}
		req.Header.SetBytesV("Authorization", f.buf)
	case 2:
		req.SetRequestURI("/open")
	case 3:
		f.buf = strconv.AppendInt(append(f.buf[:0], "/cached?q="...), int64(k), 10)
		req.SetRequestURIBytes(f.buf)
	}
	f.ctx.Response.Reset()
	f.gw.serve(&f.ctx)
	if f.statuses != nil {
		f.statuses[f.ctx.Response.StatusCode()]++
	}
}

// checkStatuses checks that every request got the answer its credential
// calls for: nothing was rate limited (each address sent one request),
// made-up credentials were refused and everything else went through.
func (f *flood) checkStatuses(t *testing.T, n int) {
	t.Helper()
	var want200, want401 int
	for i := 400; i < 400+n; i++ {
		k := i / 4
		switch {
		case i%4 == 0 && k%100 != 0, i%4 == 1 && k%5 != 0:
			want401++
		default:
			want200++
		}
	}
	if f.statuses[200] != want200 || f.statuses[401] != want401 || len(f.statuses) != 2 {
		t.Errorf("statuses %v, want 200: %d, 401: %d", f.statuses, want200, want401)
	}
}

// floodTokens signs floodValidTokens distinct tokens for the flood's key.
func floodTokens(t *testing.T) [][]byte {
	t.Helper()
	tokens := make([][]byte, floodValidTokens)
	exp := jwt.NewNumericTime(time.Now().Add(time.Hour))
	for i := range tokens {
		claims := jwt.Claims{KeyID: "f1"}
		claims.Subject = "user-" + strconv.Itoa(i)
		claims.Expires = exp
		tok, err := claims.HMACSign(jwt.HS256, []byte(floodJWTSecret))
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = tok
	}
	return tokens
}

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func mibs(s []uint64) []string {
	out := make([]string, len(s))
	for i, b := range s {
		out[i] = mib(b)
	}
	return out
}
