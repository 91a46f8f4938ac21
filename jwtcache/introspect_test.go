package jwtcache

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// introspectionServer answers RFC 7662 calls by token: "good-*" active,
// "inactive" not, "fail" 500, "slow" after a delay, "garbled" not JSON,
// "newline" active with a claim no header may carry. It counts calls and
// checks the client's credentials and the form.
type introspectionServer struct {
	*httptest.Server
	calls atomic.Int64
	delay atomic.Int64 // nanoseconds before answering good tokens
	exp   atomic.Int64 // exp of good tokens; 0 for none
}

func newIntrospectionServer(t testing.TB) *introspectionServer {
	s := &introspectionServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		// RFC 6749 §2.3.1: the credentials are form-encoded, then Basic.
		id, secret, ok := r.BasicAuth()
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		if !ok || id != "gateway" || secret != "s3cret:+" || r.Method != http.MethodPost ||
			r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "bad client", http.StatusUnauthorized)
			return
		}
		token := r.PostFormValue("token")
		switch {
		case token == "fail":
			http.Error(w, "down", http.StatusInternalServerError)
		case token == "slow":
			time.Sleep(300 * time.Millisecond)
			fmt.Fprint(w, `{"active":true}`)
		case token == "garbled":
			fmt.Fprint(w, `{"active":true,"active":false}`)
		case token == "newline":
			fmt.Fprint(w, `{"active":true,"sub":"u1","tenant_id":"t\n1"}`)
		case strings.HasPrefix(token, "good-"):
			time.Sleep(time.Duration(s.delay.Load()))
			exp := ""
			if e := s.exp.Load(); e != 0 {
				exp = fmt.Sprintf(`,"exp":%d`, e)
			}
			fmt.Fprintf(w, `{"active":true,"sub":%q,"tenant_id":7,"roles":["a","b"],"scope":"read"%s}`, strings.TrimPrefix(token, "good-"), exp)
		default:
			fmt.Fprint(w, `{"active":false}`)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func newTestIntrospector(t testing.TB, url string, clk *clock) *Introspector {
	t.Helper()
	i, err := NewIntrospector(IntrospectionOptions{
		URL:             url,
		ClientID:        "gateway",
		ClientSecret:    "s3cret:+",
		ClaimsToHeaders: map[string]string{"sub": "X-User-ID", "tenant_id": "X-Tenant-ID", "roles": "X-Roles"},
		Timeout:         100 * time.Millisecond,
		Now:             clk.Now,
		Log:             zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(i.Close)
	return i
}

func TestIntrospectionCachesActiveTokens(t *testing.T) {
	srv := newIntrospectionServer(t)
	clk := newClock(testStart)
	srv.exp.Store(testStart.Unix() + 60)
	i := newTestIntrospector(t, srv.URL, clk)

	id, err := i.Verify([]byte("good-u1"))
	if err != nil {
		t.Fatal(err)
	}
	if string(id.Subject) != "u1" || !id.Expires.Equal(time.Unix(testStart.Unix()+60, 0)) {
		t.Fatalf("identity %+v", id)
	}
	if got := strings.Join(headerLines(id), "|"); got != "X-Roles: a,b|X-User-ID: u1|X-Tenant-ID: 7" {
		t.Fatalf("headers %q", got)
	}
	if id2, err := i.Verify([]byte("good-u1")); err != nil || id2 != id {
		t.Fatalf("second Verify: %v, %v", id2, err)
	}
	if n := srv.calls.Load(); n != 1 {
		t.Fatalf("%d calls for one token verified twice, want 1", n)
	}
	// Cached until exp, then asked again (and refused: it has expired).
	clk.Add(60 * time.Second)
	if _, err := i.Verify([]byte("good-u1")); err != errInactive {
		t.Fatalf("at exp: %v, want %v", err, errInactive)
	}
	if n := srv.calls.Load(); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}

	// Without exp, an answer is kept for MaxCache (5m) at most.
	srv.exp.Store(0)
	if _, err := i.Verify([]byte("good-u2")); err != nil {
		t.Fatal(err)
	}
	clk.Add(DefaultIntrospectionMaxCache - time.Second)
	if _, err := i.Verify([]byte("good-u2")); err != nil {
		t.Fatal(err)
	}
	if n := srv.calls.Load(); n != 3 {
		t.Fatalf("%d calls within MaxCache, want 3", n)
	}
	clk.Add(time.Second)
	if _, err := i.Verify([]byte("good-u2")); err != nil {
		t.Fatal(err)
	}
	if n := srv.calls.Load(); n != 4 {
		t.Fatalf("%d calls after MaxCache, want 4", n)
	}
}

func TestIntrospectionCollapsesConcurrentCalls(t *testing.T) {
	srv := newIntrospectionServer(t)
	srv.delay.Store(int64(50 * time.Millisecond))
	i := newTestIntrospector(t, srv.URL, newClock(testStart))
	ids := make([]*Identity, 50)
	var wg sync.WaitGroup
	for n := range ids {
		wg.Go(func() {
			var err *Error
			if ids[n], err = i.Verify([]byte("good-u1")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := srv.calls.Load(); n != 1 {
		t.Fatalf("%d calls for 50 concurrent requests with one token, want 1", n)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatal("concurrent requests got different identities")
		}
	}
}

func TestIntrospectionNegativeCache(t *testing.T) {
	srv := newIntrospectionServer(t)
	clk := newClock(testStart)
	i := newTestIntrospector(t, srv.URL, clk)
	for range 3 {
		if _, err := i.Verify([]byte("revoked-token")); err != errInactive {
			t.Fatalf("inactive token: %v, want %v", err, errInactive)
		}
	}
	if n := srv.calls.Load(); n != 1 {
		t.Fatalf("%d calls for an inactive token checked thrice, want 1", n)
	}
	clk.Add(DefaultNegativeCache)
	if _, err := i.Verify([]byte("revoked-token")); err != errInactive {
		t.Fatal(err)
	}
	if n := srv.calls.Load(); n != 2 {
		t.Fatalf("%d calls after the negative cache expired, want 2", n)
	}
	// A token whose claims cannot be headers is refused, and remembered.
	for range 2 {
		if _, err := i.Verify([]byte("newline")); err != errHeaderValue {
			t.Fatalf("newline claim: %v, want %v", err, errHeaderValue)
		}
	}
	if n := srv.calls.Load(); n != 3 {
		t.Fatalf("%d calls, want 3", n)
	}
}

// TestIntrospectionCacheBound floods the introspector with distinct
// tokens, active and inactive: each cache stays within CacheEntries
// (auth.introspection.cache_entries), and the inactive ones, which anyone
// can make up, never take the room of active ones.
func TestIntrospectionCacheBound(t *testing.T) {
	srv := newIntrospectionServer(t)
	i, err := NewIntrospector(IntrospectionOptions{
		URL:          srv.URL,
		ClientID:     "gateway",
		ClientSecret: "s3cret:+",
		CacheEntries: 50,
		Log:          zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(i.Close)
	for n := range 400 {
		if _, err := i.Verify(fmt.Appendf(nil, "good-%d", n)); err != nil {
			t.Fatal(err)
		}
		if _, err := i.Verify(fmt.Appendf(nil, "bogus-%d", n)); err != errInactive {
			t.Fatalf("bogus token: %v, want %v", err, errInactive)
		}
	}
	if p, n := i.positive.len(), i.negative.len(); p != 50 || n != 50 {
		t.Fatalf("%d active and %d inactive tokens cached, want 50 each", p, n)
	}
}

func TestIntrospectionUnavailable(t *testing.T) {
	srv := newIntrospectionServer(t)
	i := newTestIntrospector(t, srv.URL, newClock(testStart))
	for _, token := range []string{"fail", "slow", "garbled"} {
		for range 2 {
			if _, err := i.Verify([]byte(token)); err != errIntrospection || err.Status != http.StatusServiceUnavailable {
				t.Fatalf("%s: %v, want %v", token, err, errIntrospection)
			}
		}
	}
	if n := srv.calls.Load(); n != 6 {
		t.Fatalf("%d calls, want 6: failures must not be cached", n)
	}
	srv.Close()
	if _, err := i.Verify([]byte("good-u1")); err != errIntrospection {
		t.Fatalf("server gone: %v, want %v", err, errIntrospection)
	}
	// Refused before any call.
	for token, want := range map[string]*Error{"": ErrNoCredential, "has space": errMalformed, strings.Repeat("a", DefaultMaxTokenBytes+1): errTooLarge} {
		if _, err := i.Verify([]byte(token)); err != want {
			t.Fatalf("%.20q: %v, want %v", token, err, want)
		}
	}
}

func TestIntrospectionWrongClientCredentials(t *testing.T) {
	srv := newIntrospectionServer(t)
	i, err := NewIntrospector(IntrospectionOptions{URL: srv.URL, ClientID: "gateway", ClientSecret: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	defer i.Close()
	// The gateway's own credentials are refused: that is no reason to
	// tell the client its token is invalid.
	if _, err := i.Verify([]byte("good-u1")); err != errIntrospection {
		t.Fatalf("%v, want %v", err, errIntrospection)
	}
	if _, err := NewIntrospector(IntrospectionOptions{URL: "ftp://x"}); err == nil {
		t.Fatal("NewIntrospector accepted an ftp URL")
	}
}
