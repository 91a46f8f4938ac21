package edge

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/gateway/internal/redistest"
	"github.com/edgegate/gateway/jwtcache"
)

// End-to-end tests of rate limits: requests through a started gateway,
// local limiters and redis-mode limiters shared by two gateways on one
// real redis-server.

// rlState is what a response says about the deciding policy.
type rlState struct {
	limit, remaining, reset, retryAfter int // retryAfter -1: absent
}

// rlHeaders reads the RateLimit-* headers and Retry-After of a response,
// failing when one of the three RateLimit-* headers is missing or not a
// number.
func rlHeaders(t *testing.T, r response) rlState {
	t.Helper()
	num := func(name string) int {
		v := r.header.Get(name)
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			t.Fatalf("%s %q (status %d), want a non-negative number", name, v, r.status)
		}
		return n
	}
	s := rlState{limit: num("RateLimit-Limit"), remaining: num("RateLimit-Remaining"), reset: num("RateLimit-Reset"), retryAfter: -1}
	if r.header.Get("Retry-After") != "" {
		s.retryAfter = num("Retry-After")
	}
	return s
}

// rlWindowBound is the longest wait a local sliding window may announce:
// its two-counter estimate still weighs a window's requests during the
// next window, so a burst at the start of one is felt until the end of
// the next (limiter/window.go). The token bucket and the redis-mode
// sliding window (an exact log) announce at most one window.
func rlWindowBound(window time.Duration) time.Duration { return 2 * window }

// rlAllowed checks an admitted request: 200, the policy's limit and what
// is left, a reset within bound (the window, see rlWindowBound), no
// Retry-After.
func rlAllowed(t *testing.T, r response, limit, remaining int, bound time.Duration) {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	s := rlHeaders(t, r)
	if s.limit != limit || s.remaining != remaining {
		t.Fatalf("RateLimit-Limit %d Remaining %d, want %d and %d", s.limit, s.remaining, limit, remaining)
	}
	if s.reset < 1 || s.reset > int(bound/time.Second) {
		t.Fatalf("RateLimit-Reset %d, want 1..%d", s.reset, int(bound/time.Second))
	}
	if s.retryAfter != -1 {
		t.Fatalf("Retry-After %d on an admitted request", s.retryAfter)
	}
}

// rlRefused checks a refused request: 429 with the JSON error, the
// policy's limit, nothing left, and a Retry-After no later than the reset,
// both within bound.
func rlRefused(t *testing.T, r response, limit int, bound time.Duration) {
	t.Helper()
	wantError(t, r, 429, "rate_limited")
	s := rlHeaders(t, r)
	if s.limit != limit || s.remaining != 0 {
		t.Fatalf("RateLimit-Limit %d Remaining %d, want %d and 0", s.limit, s.remaining, limit)
	}
	if s.retryAfter < 1 || s.retryAfter > int(bound/time.Second) {
		t.Fatalf("Retry-After %d, want 1..%d", s.retryAfter, int(bound/time.Second))
	}
	if s.reset < s.retryAfter || s.reset > int(bound/time.Second) {
		t.Fatalf("RateLimit-Reset %d, want %d..%d", s.reset, s.retryAfter, int(bound/time.Second))
	}
}

// rlMetrics returns the gateway's /metrics text.
func rlMetrics(t *testing.T, f *gatewayFixture) string {
	t.Helper()
	r := do(t, "GET", "http://"+f.gw.AdminAddr().String()+"/metrics", "")
	if r.status != 200 {
		t.Fatalf("metrics: status %d", r.status)
	}
	return r.body
}

// rlDecisions reads gateway_ratelimit_decisions_total of a policy and
// decision from metrics text; -1 when the series is missing.
func rlDecisions(metrics, policy, decision string) int {
	prefix := `gateway_ratelimit_decisions_total{policy="` + policy + `",decision="` + decision + `"} `
	for _, line := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return -1
			}
			return int(n)
		}
	}
	return -1
}

func TestRateLimitE2ELocal(t *testing.T) {
	for _, alg := range []string{"token_bucket", "sliding_window"} {
		t.Run(alg, func(t *testing.T) {
			a := startBackend(t, "a")
			f := startGateway(t, `
rate_limits:
  per_ip: { key: ip, algorithm: {{alg}}, limit: 5, window: 1m, mode: local }
services: { a: { instances: ["{{a}}"], timeout: 2s } }
routes:
  - { name: limited, match: { path: "/l/{rest...}" }, service: a, rate_limit: [per_ip] }
  - { name: free, match: { path: /free }, service: a }
`, map[string]string{"a": a.addr, "alg": alg})
			bound := time.Minute
			if alg == "sliding_window" {
				bound = rlWindowBound(time.Minute)
			}

			for i := range 5 {
				rlAllowed(t, do(t, "GET", f.base+"/l/x", ""), 5, 4-i, bound)
			}
			// A client-sent X-Forwarded-For does not change the address.
			for range 2 {
				rlRefused(t, do(t, "GET", f.base+"/l/y", "", "X-Forwarded-For", "203.0.113.9"), 5, bound)
			}
			if n := len(a.requests()); n != 5 {
				t.Fatalf("backend received %d requests, want 5", n)
			}
			// A route without limits carries no RateLimit-* headers and is
			// not limited.
			for range 7 {
				r := do(t, "GET", f.base+"/free", "")
				if r.status != 200 || r.header.Get("RateLimit-Limit") != "" {
					t.Fatalf("free route: status %d, RateLimit-Limit %q", r.status, r.header.Get("RateLimit-Limit"))
				}
			}

			m := rlMetrics(t, f)
			for decision, want := range map[string]int{"admitted": 5, "limited": 2, "unavailable": 0} {
				if got := rlDecisions(m, "per_ip", decision); got != want {
					t.Errorf("gateway_ratelimit_decisions_total{policy=per_ip,decision=%s} = %d, want %d", decision, got, want)
				}
			}
			if want := `gateway_requests_total{route="limited",service="a",class="4xx"} 2`; !strings.Contains(m, want) {
				t.Errorf("metrics lack %s", want)
			}
		})
	}
}

func TestRateLimitE2ETightestDecides(t *testing.T) {
	a := startBackend(t, "a")
	f := startGateway(t, `
rate_limits:
  loose: { key: "header:X-Client", limit: 10, window: 1m, mode: local }
  tight: { key: "header:X-Client", limit: 2, window: 1m, mode: local }
services: { a: { instances: ["{{a}}"], timeout: 2s } }
routes:
  - { name: both, match: { path: /both }, service: a, rate_limit: [loose, tight] }
  - { name: reversed, match: { path: /reversed }, service: a, rate_limit: [tight, loose] }
  - { name: loose-only, match: { path: /loose }, service: a, rate_limit: [loose] }
`, map[string]string{"a": a.addr})

	// The tight policy has less left: it decides, whatever the order.
	for _, path := range []string{"/both", "/reversed"} {
		client := "c" + path
		rlAllowed(t, do(t, "GET", f.base+path, "", "X-Client", client), 2, 1, time.Minute)
		rlAllowed(t, do(t, "GET", f.base+path, "", "X-Client", client), 2, 0, time.Minute)
		rlRefused(t, do(t, "GET", f.base+path, "", "X-Client", client), 2, time.Minute)
	}

	// The loose policy, drawn down on another route, has less left: now
	// it decides, and its refusal refuses although tight has room.
	for i := range 9 {
		rlAllowed(t, do(t, "GET", f.base+"/loose", "", "X-Client", "d"), 10, 9-i, time.Minute)
	}
	rlAllowed(t, do(t, "GET", f.base+"/both", "", "X-Client", "d"), 10, 0, time.Minute)
	rlRefused(t, do(t, "GET", f.base+"/both", "", "X-Client", "d"), 10, time.Minute)

	if n := len(a.requests()); n != 2*2+9+1 {
		t.Fatalf("backend received %d requests, want %d", n, 2*2+9+1)
	}
}

func TestRateLimitE2EHeaderKey(t *testing.T) {
	a := startBackend(t, "a")
	f := startGateway(t, `
rate_limits:
  per_tenant: { key: "header:X-Tenant", limit: 2, window: 1m, mode: local }
services: { a: { instances: ["{{a}}"], timeout: 2s } }
routes:
  - { name: t, match: { path: /t }, service: a, rate_limit: [per_tenant] }
`, map[string]string{"a": a.addr})
	url := f.base + "/t"

	rlAllowed(t, do(t, "GET", url, "", "X-Tenant", "acme"), 2, 1, time.Minute)
	rlAllowed(t, do(t, "GET", url, "", "X-Tenant", "acme"), 2, 0, time.Minute)
	rlRefused(t, do(t, "GET", url, "", "X-Tenant", "acme"), 2, time.Minute)
	// Another tenant has its own quota.
	rlAllowed(t, do(t, "GET", url, "", "X-Tenant", "beta"), 2, 1, time.Minute)
	rlRefused(t, do(t, "GET", url, "", "X-Tenant", "acme"), 2, time.Minute)
	// Header values are compared exactly.
	rlAllowed(t, do(t, "GET", url, "", "X-Tenant", "ACME"), 2, 1, time.Minute)
	// Without the header the client address counts, apart from tenants.
	rlAllowed(t, do(t, "GET", url, ""), 2, 1, time.Minute)
	rlAllowed(t, do(t, "GET", url, ""), 2, 0, time.Minute)
	rlRefused(t, do(t, "GET", url, ""), 2, time.Minute)
	// A tenant named like the client address is still a tenant.
	rlAllowed(t, do(t, "GET", url, "", "X-Tenant", "127.0.0.1"), 2, 1, time.Minute)
	rlAllowed(t, do(t, "GET", url, "", "X-Tenant", "ip:127.0.0.1"), 2, 1, time.Minute)
}

func TestRateLimitE2EPerConsumer(t *testing.T) {
	a := startBackend(t, "a")
	keyFile := filepath.Join(t.TempDir(), "api-keys.yaml")
	store := jwtcache.NewFileStore(keyFile)
	acme1, _ := authIssueKey(t, store, "acme", "gold", 0, time.Now())
	acme2, _ := authIssueKey(t, store, "acme", "gold", 0, time.Now())
	beta, _ := authIssueKey(t, store, "beta", "", 0, time.Now())
	f := startGateway(t, `
auth:
  api_keys: { source: file, file: "{{keys}}" }
rate_limits:
  per_consumer: { key: api_key, limit: 2, window: 1m, mode: local }
  per_raw_key: { key: api_key, limit: 2, window: 1m, mode: local }
services: { a: { instances: ["{{a}}"], timeout: 2s } }
routes:
  - { name: keyed, match: { path: /k }, service: a, auth: [api_key], rate_limit: [per_consumer] }
  - { name: open, match: { path: /open }, service: a, rate_limit: [per_raw_key] }
`, map[string]string{"a": a.addr, "keys": keyFile})

	// Two keys of one consumer share its quota.
	rlAllowed(t, do(t, "GET", f.base+"/k", "", "X-API-Key", acme1), 2, 1, time.Minute)
	rlAllowed(t, do(t, "GET", f.base+"/k", "", "Authorization", "ApiKey "+acme2), 2, 0, time.Minute)
	rlRefused(t, do(t, "GET", f.base+"/k", "", "X-API-Key", acme1), 2, time.Minute)
	rlRefused(t, do(t, "GET", f.base+"/k", "", "X-API-Key", acme2), 2, time.Minute)
	rlAllowed(t, do(t, "GET", f.base+"/k", "", "X-API-Key", beta), 2, 1, time.Minute)
	// A client-sent consumer header changes nothing.
	rlRefused(t, do(t, "GET", f.base+"/k", "", "X-API-Key", acme1, "X-Consumer-ID", "beta"), 2, time.Minute)
	// Refused credentials are answered before any limit is charged.
	for range 3 {
		authWant401(t, do(t, "GET", f.base+"/k", "", "X-API-Key", "gw_unknown"), `ApiKey realm="gateway"`, true)
	}
	rlAllowed(t, do(t, "GET", f.base+"/k", "", "X-API-Key", beta), 2, 0, time.Minute)

	// On a route that does not authenticate, a presented key is the
	// client's free choice: every request counts by address, so a fresh
	// key per request buys no fresh quota.
	rlAllowed(t, do(t, "GET", f.base+"/open", "", "X-API-Key", "anything-1"), 2, 1, time.Minute)
	rlAllowed(t, do(t, "GET", f.base+"/open", "", "X-API-Key", "anything-2"), 2, 0, time.Minute)
	rlRefused(t, do(t, "GET", f.base+"/open", "", "X-API-Key", "anything-3"), 2, time.Minute)
	rlRefused(t, do(t, "GET", f.base+"/open", ""), 2, time.Minute)
}

const rlRedisConfig = `
redis: { addrs: ["{{redis}}"], on_error: {{on_error}} }
rate_limits:
  shared_tb: { key: "header:X-Client", algorithm: token_bucket, limit: {{limit}}, window: 1h, mode: redis }
  shared_sw: { key: "header:X-Client", algorithm: sliding_window, limit: {{limit}}, window: 1h, mode: redis }
services: { a: { instances: ["{{a}}"], timeout: 2s } }
routes:
  - { name: tb, match: { path: /tb }, service: a, rate_limit: [shared_tb] }
  - { name: sw, match: { path: /sw }, service: a, rate_limit: [shared_sw] }
`

func TestRateLimitE2ERedisTwoGateways(t *testing.T) {
	rs := redistest.Start(t)
	a := startBackend(t, "a")
	const limit = 10
	vars := map[string]string{"a": a.addr, "redis": rs.Addr, "on_error": "fail_closed", "limit": strconv.Itoa(limit)}
	gws := []*gatewayFixture{startGateway(t, rlRedisConfig, vars), startGateway(t, rlRedisConfig, vars)}

	for _, c := range []struct{ path, policy string }{{"/tb", "shared_tb"}, {"/sw", "shared_sw"}} {
		t.Run(c.policy, func(t *testing.T) {
			// Taking turns, the two gateways count down one quota.
			for i := range 3 {
				rlAllowed(t, do(t, "GET", gws[i%2].base+c.path, "", "X-Client", "seq"), limit, limit-1-i, time.Hour)
			}
			if n, err := rs.Do("EXISTS", "rl:{"+c.policy+":h:seq}"); err != nil || n != "1" {
				t.Fatalf("redis key rl:{%s:h:seq}: %q %v", c.policy, n, err)
			}

			// Many clients at once through both: exactly the limit passes.
			const workers, each = 4, 8
			var mu sync.Mutex
			statuses := map[int]int{}
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						r := do(t, "GET", gws[(w+i)%2].base+c.path, "", "X-Client", "burst")
						mu.Lock()
						statuses[r.status]++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if statuses[200] != limit || statuses[429] != workers*each-limit {
				t.Fatalf("statuses %v, want %d × 200 and %d × 429", statuses, limit, workers*each-limit)
			}
			for _, g := range gws {
				rlRefused(t, do(t, "GET", g.base+c.path, "", "X-Client", "burst"), limit, time.Hour)
			}

			admitted := 0
			for _, g := range gws {
				m := rlMetrics(t, g)
				if n := rlDecisions(m, c.policy, "admitted"); n < 0 {
					t.Fatalf("no gateway_ratelimit_decisions_total for %s", c.policy)
				} else {
					admitted += n
				}
			}
			if admitted != 3+limit {
				t.Fatalf("gateways report %d admitted in total, want %d", admitted, 3+limit)
			}
		})
	}
}

func TestRateLimitE2ERedisDownFailClosed(t *testing.T) {
	rs := redistest.Start(t)
	a := startBackend(t, "a")
	f := startGateway(t, rlRedisConfig, map[string]string{"a": a.addr, "redis": rs.Addr, "on_error": "fail_closed", "limit": "3"})

	rlAllowed(t, do(t, "GET", f.base+"/tb", "", "X-Client", "k1"), 3, 2, time.Hour)
	rs.Stop()
	for i := range 3 {
		for _, path := range []string{"/tb", "/sw"} {
			r := do(t, "GET", f.base+path, "", "X-Client", fmt.Sprintf("k%d", i))
			wantError(t, r, 503, "unavailable")
			if r.header.Get("Retry-After") != "" {
				// Retry-After belongs to 429; a 503 of a limiter that cannot
				// count says nothing about when to retry.
				t.Fatalf("503 with Retry-After %q", r.header.Get("Retry-After"))
			}
		}
	}
	if n := len(a.requests()); n != 1 {
		t.Fatalf("backend received %d requests, want 1", n)
	}
	if n := rlDecisions(rlMetrics(t, f), "shared_tb", "unavailable"); n != 3 {
		t.Fatalf("unavailable decisions of shared_tb: %d, want 3", n)
	}
}

func TestRateLimitE2ERedisDownFailOpen(t *testing.T) {
	rs := redistest.Start(t)
	a := startBackend(t, "a")
	f := startGateway(t, rlRedisConfig, map[string]string{"a": a.addr, "redis": rs.Addr, "on_error": "fail_open", "limit": "3"})

	rlAllowed(t, do(t, "GET", f.base+"/tb", "", "X-Client", "k1"), 3, 2, time.Hour)
	rs.Stop()
	// Each policy now counts in this gateway's memory at its own limit.
	for _, path := range []string{"/tb", "/sw"} {
		for i := range 3 {
			r := do(t, "GET", f.base+path, "", "X-Client", "fresh")
			if r.status != 200 {
				t.Fatalf("%s request %d: status %d: %s", path, i, r.status, r.body)
			}
			if s := rlHeaders(t, r); s.limit != 3 || s.remaining != 2-i {
				t.Fatalf("%s request %d: RateLimit-Limit %d Remaining %d, want 3 and %d", path, i, s.limit, s.remaining, 2-i)
			}
		}
		bound := time.Hour
		if path == "/sw" {
			bound = rlWindowBound(time.Hour)
		}
		rlRefused(t, do(t, "GET", f.base+path, "", "X-Client", "fresh"), 3, bound)
		rlRefused(t, do(t, "GET", f.base+path, "", "X-Client", "fresh"), 3, bound)
	}
	m := rlMetrics(t, f)
	if !strings.Contains(m, `gateway_ratelimit_degraded_total{policy="shared_sw"} 5`) {
		t.Errorf("metrics lack 5 degraded decisions of shared_sw:\n%s", m)
	}
	if rlDecisions(m, "shared_tb", "unavailable") != 0 {
		t.Errorf("fail_open reported unavailable decisions")
	}
}

func TestRateLimitE2EAPIKeyPolicyNotEvadedWithBogusKeys(t *testing.T) {
	a := startBackend(t, "a")
	keyFile := filepath.Join(t.TempDir(), "api-keys.yaml")
	store := jwtcache.NewFileStore(keyFile)
	acme, _ := authIssueKey(t, store, "acme", "gold", 0, time.Now())
	vars := authJWTVars(t, a)
	vars["keys"] = keyFile
	f := startGateway(t, authJWTAuth+`
  api_keys: { source: file, file: "{{keys}}" }
rate_limits:
  per_key: { key: api_key, limit: 2, window: 1m, mode: local }
services: { a: { instances: ["{{a}}"], timeout: 2s } }
routes:
  - { name: either, match: { path: /e }, service: a, auth: [jwt, api_key], rate_limit: [per_key] }
`, vars)
	token := authSign(t, []byte(authHMACSecret), authHS256Header, authGoodClaims())

	// A request authenticated by its token has no verified API key: an
	// X-API-Key beside it is the client's choice, and a fresh one per
	// request must not buy a fresh quota.
	rlAllowed(t, do(t, "GET", f.base+"/e", "", "Authorization", "Bearer "+token, "X-API-Key", "bogus-1"), 2, 1, time.Minute)
	rlAllowed(t, do(t, "GET", f.base+"/e", "", "Authorization", "Bearer "+token, "X-API-Key", "bogus-2"), 2, 0, time.Minute)
	rlRefused(t, do(t, "GET", f.base+"/e", "", "Authorization", "Bearer "+token, "X-API-Key", "bogus-3"), 2, time.Minute)
	rlRefused(t, do(t, "GET", f.base+"/e", "", "Authorization", "Bearer "+token), 2, time.Minute)
	// A verified key counts by its consumer, apart from the address.
	rlAllowed(t, do(t, "GET", f.base+"/e", "", "X-API-Key", acme), 2, 1, time.Minute)
}
