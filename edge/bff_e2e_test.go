package edge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// End-to-end tests of aggregate (BFF) routes: parallel fan-out, partial
// and failed results, claims in call paths, and the response cache in
// front of an aggregate.

// bffSecret is the HS256 secret of the tests that sign tokens; they put it
// in the environment variable bffSecretEnv with t.Setenv.
const (
	bffSecret    = "bff-and-cache-e2e-hs256-secret-0123456789"
	bffSecretEnv = "BFF_E2E_JWT_SECRET"
)

// bffJWTAuth is the auth section matching bffToken.
const bffJWTAuth = `
auth:
  jwt:
    algorithms: [HS256]
    keys: [{ kid: bff-1, alg: HS256, secret_env: ` + bffSecretEnv + ` }]
    claims_to_headers: { sub: X-User-ID }
`

// bffToken signs an HS256 token for sub, valid for a minute; iat makes
// two tokens of one subject differ.
func bffToken(sub string, iat time.Time) string {
	return bffSign(map[string]any{"sub": sub, "iat": iat.Unix(), "exp": iat.Add(time.Minute).Unix()})
}

// bffSign signs claims with bffSecret under kid bff-1.
func bffSign(claims map[string]any) string {
	b64 := base64.RawURLEncoding
	header := b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT","kid":"bff-1"}`))
	payload, _ := json.Marshal(claims)
	input := header + "." + b64.EncodeToString(payload)
	mac := hmac.New(sha256.New, []byte(bffSecret))
	mac.Write([]byte(input))
	return input + "." + b64.EncodeToString(mac.Sum(nil))
}

func bffBearer(sub string) string { return "Bearer " + bffToken(sub, time.Now()) }

// bffJSONBackend answers {"from":NAME,"user":X-User-ID} after delay,
// counting the requests that are not health checks.
type bffJSONBackend struct {
	*backend
	delay atomic.Int64 // nanoseconds
	calls atomic.Int64
}

func bffStartJSON(t testing.TB, name string, delay time.Duration) *bffJSONBackend {
	t.Helper()
	b := &bffJSONBackend{backend: startBackend(t, name)}
	b.delay.Store(int64(delay))
	b.setHandler(func(w http.ResponseWriter, r *http.Request) {
		b.calls.Add(1)
		select {
		case <-time.After(time.Duration(b.delay.Load())):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"from":%q,"user":%q}`, name, r.Header.Get("X-User-ID"))
	})
	return b
}

func TestBFFE2EParallelFanOut(t *testing.T) {
	a := bffStartJSON(t, "a", 100*time.Millisecond)
	b := bffStartJSON(t, "b", 100*time.Millisecond)
	c := bffStartJSON(t, "c", 100*time.Millisecond)
	f := startGateway(t, `
services:
  a: { instances: ["{{a}}"] }
  b: { instances: ["{{b}}"] }
  c: { instances: ["{{c}}"] }
routes:
  - name: dash
    match: { path: /dash, methods: [GET] }
    aggregate:
      timeout: 2s
      calls:
        a: { service: a, path: /a }
        b: { service: b, path: /b }
        c: { service: c, path: /c }
`, map[string]string{"a": a.addr, "b": b.addr, "c": c.addr})

	const want = `{"a":{"from":"a","user":""},"b":{"from":"b","user":""},"c":{"from":"c","user":""}}`
	for i := range 2 {
		start := time.Now()
		r := do(t, "GET", f.base+"/dash", "")
		took := time.Since(start)
		if r.status != 200 || r.body != want {
			t.Fatalf("got %d %s, want 200 %s", r.status, r.body, want)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("content type %q", ct)
		}
		if p := r.header.Get("X-Partial"); p != "" {
			t.Errorf("X-Partial %q on a complete result", p)
		}
		if r.header.Get("X-Trace-ID") == "" {
			t.Error("no X-Trace-ID")
		}
		// Three calls of 100ms each: in series they would take 300ms.
		// The first request also dials the three backends.
		t.Logf("request %d took %v", i, took)
		if i == 1 && took >= 280*time.Millisecond {
			t.Fatalf("aggregate took %v: the calls did not run in parallel", took)
		}
	}
	for _, s := range []*bffJSONBackend{a, b, c} {
		got := s.last(t)
		if got.Method != "GET" || got.URI != "/"+s.name {
			t.Errorf("%s received %s %s", s.name, got.Method, got.URI)
		}
		if got.Header.Get("X-Trace-Id") == "" || got.Header.Get("X-Forwarded-For") == "" {
			t.Errorf("%s lacks trace or forwarding headers: %v", s.name, got.Header)
		}
	}
}

func TestBFFE2EPartialAndFailed(t *testing.T) {
	a := bffStartJSON(t, "a", 0)
	b := bffStartJSON(t, "b", 0)
	slow := bffStartJSON(t, "slow", 2*time.Second)
	broken := startBackend(t, "broken")
	broken.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		w.Write([]byte(`{"error":"boom"}`))
	})
	f := startGateway(t, `
services:
  a:      { instances: ["{{a}}"] }
  b:      { instances: ["{{b}}"] }
  slow:   { instances: ["{{slow}}"] }
  broken: { instances: ["{{broken}}"] }
  down:   { instances: ["{{down}}"] }
routes:
  - name: partial
    match: { path: /partial, methods: [GET] }
    aggregate:
      timeout: 250ms
      calls:
        a:    { service: a, path: /a }
        slow: { service: slow, path: /slow }
        b:    { service: b, path: /b }
  - name: broken
    match: { path: /broken, methods: [GET] }
    aggregate:
      timeout: 1s
      calls:
        a:      { service: a, path: /a }
        broken: { service: broken, path: /x }
        down:   { service: down, path: /y }
  - name: all-failed
    match: { path: /all-failed, methods: [GET] }
    aggregate:
      timeout: 250ms
      calls:
        slow:   { service: slow, path: /slow }
        broken: { service: broken, path: /x }
        down:   { service: down, path: /y }
`, map[string]string{"a": a.addr, "b": b.addr, "slow": slow.addr, "broken": broken.addr, "down": freeAddr(t)})

	start := time.Now()
	r := do(t, "GET", f.base+"/partial", "")
	took := time.Since(start)
	if want := `{"a":{"from":"a","user":""},"slow":null,"b":{"from":"b","user":""}}`; r.status != 200 || r.body != want {
		t.Fatalf("got %d %s, want 200 %s", r.status, r.body, want)
	}
	if p := r.header.Get("X-Partial"); p != "slow" {
		t.Fatalf("X-Partial %q, want slow", p)
	}
	if took >= 2*time.Second {
		t.Fatalf("took %v: the gateway waited for the slow call", took)
	}

	// A 500 and a refused connection are null too, named in call order.
	r = do(t, "GET", f.base+"/broken", "")
	if want := `{"a":{"from":"a","user":""},"broken":null,"down":null}`; r.status != 200 || r.body != want {
		t.Fatalf("got %d %s, want 200 %s", r.status, r.body, want)
	}
	if p := r.header.Get("X-Partial"); p != "broken,down" {
		t.Fatalf("X-Partial %q, want broken,down", p)
	}

	// Every call failing is a 502 with the gateway's JSON error.
	e := wantError(t, do(t, "GET", f.base+"/all-failed", ""), 502, "bad_gateway")
	if strings.Contains(e.Error.Message, "boom") {
		t.Errorf("backend text leaked: %q", e.Error.Message)
	}
}

func TestBFFE2EClaimsInCallPaths(t *testing.T) {
	t.Setenv(bffSecretEnv, bffSecret)
	profile := bffStartJSON(t, "profile", 0)
	notes := bffStartJSON(t, "notes", 0)
	f := startGateway(t, bffJWTAuth+`
services:
  profile: { instances: ["{{profile}}"] }
  notes:   { instances: ["{{notes}}"] }
routes:
  - name: me
    match: { path: "/me/{section}", methods: [GET] }
    auth: [jwt]
    aggregate:
      timeout: 1s
      calls:
        profile: { service: profile, path: "/users/{claims.sub}/{section}" }
        notes:   { service: notes, path: "/notes?user={claims.sub}&q={query.q}" }
`, map[string]string{"profile": profile.addr, "notes": notes.addr})

	wantError(t, do(t, "GET", f.base+"/me/home", ""), 401, "unauthorized")
	if n := profile.calls.Load() + notes.calls.Load(); n != 0 {
		t.Fatalf("backends called %d times without a credential", n)
	}

	r := do(t, "GET", f.base+"/me/home?q=x", "", "Authorization", bffBearer("alice"), "X-User-ID", "mallory")
	want := `{"profile":{"from":"profile","user":"alice"},"notes":{"from":"notes","user":"alice"}}`
	if r.status != 200 || r.body != want {
		t.Fatalf("got %d %s, want 200 %s", r.status, r.body, want)
	}
	if got := profile.last(t).URI; got != "/users/alice/home" {
		t.Errorf("profile path %q", got)
	}
	if got := notes.last(t).URI; got != "/notes?user=alice&q=x" {
		t.Errorf("notes path %q", got)
	}
	for _, s := range []*bffJSONBackend{profile, notes} {
		got := s.last(t)
		if v := got.Header.Values("X-User-Id"); len(v) != 1 || v[0] != "alice" {
			t.Errorf("%s received X-User-ID %q", s.name, v)
		}
		if v := got.Header.Get("Authorization"); v != "" {
			t.Errorf("%s received the credential: %q", s.name, v)
		}
	}
}

func TestBFFE2ECachedAggregate(t *testing.T) {
	t.Setenv(bffSecretEnv, bffSecret)
	a := bffStartJSON(t, "a", 0)
	b := bffStartJSON(t, "b", 0)
	f := startGateway(t, bffJWTAuth+`
services:
  a: { instances: ["{{a}}"] }
  b: { instances: ["{{b}}"] }
routes:
  - name: dash
    match: { path: /dash, methods: [GET] }
    auth: [jwt]
    aggregate:
      timeout: 1s
      calls:
        a: { service: a, path: "/a/{claims.sub}" }
        b: { service: b, path: "/b" }
    cache: { ttl: 10s, vary: [user] }
`, map[string]string{"a": a.addr, "b": b.addr})
	body := func(user string) string {
		return fmt.Sprintf(`{"a":{"from":"a","user":%q},"b":{"from":"b","user":%q}}`, user, user)
	}
	check := func(user, xcache string, calls int64) {
		t.Helper()
		r := do(t, "GET", f.base+"/dash", "", "Authorization", bffBearer(user))
		if r.status != 200 || r.body != body(user) {
			t.Fatalf("%s: got %d %s", user, r.status, r.body)
		}
		if got := r.header.Get("X-Cache"); got != xcache {
			t.Fatalf("%s: X-Cache %q, want %q", user, got, xcache)
		}
		if n := a.calls.Load() + b.calls.Load(); n != calls {
			t.Fatalf("%s: backends called %d times, want %d", user, n, calls)
		}
	}
	check("alice", "MISS", 2)
	check("alice", "HIT", 2)
	check("bob", "MISS", 4)
	check("bob", "HIT", 4)
	check("alice", "HIT", 4)
}

// A partial aggregate is a degraded answer: it must not be kept for the
// whole ttl, or one slow call would blank a section for every later
// request of that key.
func TestBFFE2EPartialAggregateNotCached(t *testing.T) {
	a := bffStartJSON(t, "a", 0)
	b := bffStartJSON(t, "b", 2*time.Second)
	f := startGateway(t, `
services:
  a: { instances: ["{{a}}"] }
  b: { instances: ["{{b}}"] }
routes:
  - name: dash
    match: { path: /dash, methods: [GET] }
    aggregate:
      timeout: 200ms
      calls:
        a: { service: a, path: /a }
        b: { service: b, path: /b }
    cache: { ttl: 10s }
`, map[string]string{"a": a.addr, "b": b.addr})

	r := do(t, "GET", f.base+"/dash", "")
	if r.status != 200 || r.header.Get("X-Partial") != "b" {
		t.Fatalf("got %d, X-Partial %q: %s", r.status, r.header.Get("X-Partial"), r.body)
	}
	// Caches downstream are told not to keep it either.
	if cc := r.header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("partial result with Cache-Control %q, want no-cache", cc)
	}
	b.delay.Store(0)
	r = do(t, "GET", f.base+"/dash", "")
	want := `{"a":{"from":"a","user":""},"b":{"from":"b","user":""}}`
	if r.status != 200 || r.body != want || r.header.Get("X-Partial") != "" {
		t.Fatalf("after b recovered: %d X-Cache %q X-Partial %q %s", r.status,
			r.header.Get("X-Cache"), r.header.Get("X-Partial"), r.body)
	}
	// The complete answer is cached.
	r = do(t, "GET", f.base+"/dash", "")
	if r.body != want || r.header.Get("X-Cache") != "HIT" {
		t.Fatalf("complete result not cached: X-Cache %q %s", r.header.Get("X-Cache"), r.body)
	}
	if cc := r.header.Get("Cache-Control"); cc != "" {
		t.Errorf("complete result with Cache-Control %q", cc)
	}
}
