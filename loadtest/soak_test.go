package loadtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// soakDuration is LOADTEST_SOAK when set (Go syntax: 90s, 10m), else 20s,
// or 10m in long mode.
func soakDuration(t *testing.T) time.Duration {
	if s := os.Getenv("LOADTEST_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("LOADTEST_SOAK=%q: want a positive duration such as 90s", s)
		}
		return d
	}
	return pick(20*time.Second, 10*time.Minute)
}

// TestSoak runs a fixed rate against a route that checks API keys, rate
// limits by consumer and caches responses, and samples the gateway's live
// heap and goroutine count every second. Memory and goroutines must stay
// flat: the second half's highest heap within 20% (or 1 MiB, whichever is
// larger) of the first half's, its highest goroutine count within 10 of
// the first half's. Every request is answered: 200, 429 for the consumer
// over its limit, 401 for the bad key, nothing else; and the cache serves
// some of the 200s (fifty paths, a one-second ttl).
func TestSoak(t *testing.T) {
	runFor := soakDuration(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keys.yaml"), []byte("keys: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	be := startBackend(t)
	cfg := writeConfig(t, dir, fmt.Sprintf(`
server: { read_timeout: 5s, write_timeout: 5s }
logging: { access_log: "off" }
auth:
  api_keys: { source: file, file: keys.yaml }
rate_limits:
  per_consumer:
    key: api_key
    algorithm: token_bucket
    limit: %d
    window: 1s
    mode: local
services:
  items:
    instances: [%q]
    timeout: 2s
routes:
  - name: items
    match: { path: "/api/items/{id}", methods: [GET] }
    service: items
    auth: [api_key]
    rate_limit: [per_consumer]
    cache: { ttl: 1s, vary: [user] }
`, int(scaled(100)), be.Addr))
	// Keys are issued the way an operator does: `gateway keys issue`.
	calm := issueKey(t, cfg, "calm")
	busy := issueKey(t, cfg, "busy")
	g := startGatewayIn(t, dir)

	ctx, cancel := context.WithTimeout(t.Context(), runFor+30*time.Second)
	defer cancel()
	run := load{
		Targets: []string{g.Addr}, Rate: scaled(300), Conns: 8, Timeout: 2 * time.Second,
		Build: func(i int, req *fasthttp.Request) {
			req.SetRequestURI("/api/items/" + strconv.Itoa(i%50))
			switch {
			case i%50 == 7:
				req.Header.Set("X-API-Key", "gw_not-a-key-"+strconv.Itoa(i))
			case i%6 == 0: // a sixth of the rate: under its limit
				req.Header.Set("X-API-Key", calm)
			default: // five sixths: over it
				req.Header.Set("X-API-Key", busy)
			}
		},
	}.forDuration(runFor).start(ctx)

	var heaps []int64
	var goroutines []int
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for sampling := true; sampling; {
		select {
		case <-tick.C:
			h, n, err := g.heapAndGoroutines()
			if err != nil {
				t.Errorf("sample: %v", err)
				continue
			}
			heaps, goroutines = append(heaps, h), append(goroutines, n)
		case <-run.done:
			sampling = false
		}
	}
	outs := run.Wait()

	tl := count(outs)
	hits, lookups := cacheLookups(t, g)
	half := len(heaps) / 2
	if half == 0 {
		t.Fatalf("only %d samples", len(heaps))
	}
	heap1, heap2 := maxOf(heaps[:half]), maxOf(heaps[half:])
	gor1, gor2 := maxOf(goroutines[:half]), maxOf(goroutines[half:])
	v := &verdict{name: "soak"}
	v.add("duration", runFor).add("rate", run.rate()).add("status", "["+tl.String()+"]").
		add("heap_max_MiB", fmt.Sprintf("%.1f->%.1f", mib(heap1), mib(heap2))).
		add("goroutines_max", fmt.Sprintf("%d->%d", gor1, gor2)).add("samples", len(heaps)).
		add("cache_hits", fmt.Sprintf("%d/%d", hits, lookups))
	v.timing(outs)
	t.Log(v)
	t.Logf("heap MiB by second: %s", joinMiB(heaps))

	if bad := tl.only(200, 401, 429); bad != 0 {
		t.Errorf("%d requests answered other than 200, 401 or 429: %s (first connection error: %s)", bad, tl, connErrText())
	}
	if tl[429] == 0 || tl[401] == 0 {
		t.Errorf("the busy consumer was never limited or the bad key never refused: %s", tl)
	}
	if hits == 0 {
		t.Errorf("the response cache never answered: %d look-ups, no hit", lookups)
	}
	if heap2 > max(heap1*12/10, heap1+1<<20) {
		t.Errorf("live heap grew: first half max %.1f MiB, second half max %.1f MiB", mib(heap1), mib(heap2))
	}
	if gor2 > gor1+10 {
		t.Errorf("goroutines grew: first half max %d, second half max %d", gor1, gor2)
	}
}

// issueKey runs `gateway keys issue` and returns the raw key, which it
// prints alone on its first line.
func issueKey(t *testing.T, cfg, consumer string) string {
	t.Helper()
	out := runGateway(t, "keys", "issue", "-config", cfg, "-consumer", consumer, "-plan", "soak")
	key, _, _ := strings.Cut(out, "\n")
	if key == "" {
		t.Fatalf("keys issue printed no key: %q", out)
	}
	return key
}

// cacheLookups reads the response cache's hits and look-ups from /metrics.
func cacheLookups(t *testing.T, g *gatewayProc) (hits, all int) {
	return int(g.metric(t, "gateway_cache_lookups_total", `result="hit"`)),
		int(g.metric(t, "gateway_cache_lookups_total"))
}

func maxOf[T int | int64](xs []T) T {
	var m T
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func joinMiB(xs []int64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.1f", mib(x))
	}
	return strings.Join(parts, " ")
}
