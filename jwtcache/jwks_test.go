package jwtcache

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// jwkOf renders the public half of a key as a JWK.
func jwkOf(kid, alg string, priv any) string {
	var members string
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		members = fmt.Sprintf(`"kty":"RSA","n":%q,"e":%q`, b64.EncodeToString(k.N.Bytes()), b64.EncodeToString(big.NewInt(int64(k.E)).Bytes()))
	case *ecdsa.PrivateKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		members = fmt.Sprintf(`"kty":"EC","crv":%q,"x":%q,"y":%q`, k.Curve.Params().Name,
			b64.EncodeToString(k.X.FillBytes(make([]byte, size))), b64.EncodeToString(k.Y.FillBytes(make([]byte, size))))
	case ed25519.PrivateKey:
		members = fmt.Sprintf(`"kty":"OKP","crv":"Ed25519","x":%q`, b64.EncodeToString(k.Public().(ed25519.PublicKey)))
	case []byte:
		members = fmt.Sprintf(`"kty":"oct","k":%q`, b64.EncodeToString(k))
	}
	if alg != "" {
		members += fmt.Sprintf(`,"alg":%q`, alg)
	}
	return fmt.Sprintf(`{"kid":%q,"use":"sig",%s}`, kid, members)
}

func jwks(keys ...string) string { return `{"keys":[` + strings.Join(keys, ",") + `]}` }

// jwksServer serves a key set that tests change, counts requests, and can
// hold requests until released.
type jwksServer struct {
	*httptest.Server
	body     atomic.Pointer[string]
	requests atomic.Int64
	status   atomic.Int64
	mu       sync.Mutex
	gate     chan struct{} // when not nil, requests wait for it to close
	entered  chan struct{}
}

func newJWKSServer(t testing.TB, body string) *jwksServer {
	s := &jwksServer{}
	s.body.Store(&body)
	s.status.Store(http.StatusOK)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.mu.Lock()
		gate, entered := s.gate, s.entered
		s.mu.Unlock()
		if gate != nil {
			entered <- struct{}{}
			<-gate
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(s.status.Load()))
		fmt.Fprint(w, *s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(body string) { s.body.Store(&body) }

// hold makes the next requests wait until the returned release is called;
// entered receives once per request that arrived.
func (s *jwksServer) hold() (entered <-chan struct{}, release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate, s.entered = make(chan struct{}), make(chan struct{}, 100)
	gate, ent := s.gate, s.entered
	return ent, func() {
		s.mu.Lock()
		s.gate = nil
		s.mu.Unlock()
		close(gate)
	}
}

func newJWKSVerifier(t testing.TB, url string) (*JWT, *clock) {
	return newTestJWT(t, func(o *JWTOptions) {
		o.Keys = nil
		o.JWKSURL = url
		o.Refresh = time.Hour // the test refreshes by hand
		o.UnknownKidCooldown = 30 * time.Second
		// A loaded test machine can hold a loopback request for seconds;
		// a timed-out re-read would refuse the new kid, as it should in
		// production, and fail the test for the wrong reason.
		o.FetchTimeout = time.Minute
	})
}

// verifyAll runs Verify on every token at once and returns the refusals.
func verifyAll(j *JWT, tokens []string) []*Error {
	errs := make([]*Error, len(tokens))
	var wg sync.WaitGroup
	for i, tok := range tokens {
		wg.Go(func() { _, errs[i] = j.Verify([]byte(tok)) })
	}
	wg.Wait()
	return errs
}

func TestJWKSRotation(t *testing.T) {
	k := keys(t)
	srv := newJWKSServer(t, jwks(jwkOf("k1", "RS256", k.rsa)))
	j, clk := newJWKSVerifier(t, srv.URL)
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("%d JWKS requests at start, want 1", n)
	}
	old := []byte(sign(t, "RS256", k.rsa, header("RS256", "k1"), goodClaims()))
	if _, err := j.Verify(old); err != nil {
		t.Fatalf("k1: %v", err)
	}

	// The issuer publishes k2 and starts using it: the first tokens that
	// name it trigger one re-read, which they all wait for, and all pass.
	srv.set(jwks(jwkOf("k1", "RS256", k.rsa), jwkOf("k2", "ES256", k.p256)))
	entered, release := srv.hold()
	tokens := make([]string, 20)
	for i := range tokens {
		tokens[i] = sign(t, "ES256", k.p256, header("ES256", "k2"), goodClaims("n", i))
	}
	result := make(chan []*Error)
	go func() { result <- verifyAll(j, tokens) }()
	<-entered
	time.Sleep(50 * time.Millisecond) // let the other requests line up behind the read
	release()
	for i, err := range <-result {
		if err != nil {
			t.Fatalf("token %d with the new kid: %v", i, err)
		}
	}
	if n := srv.requests.Load(); n != 2 {
		t.Fatalf("%d JWKS requests after 20 concurrent new-kid tokens, want 2", n)
	}

	// Made-up kids within the cooldown cost no request.
	bogus := make([]string, 20)
	for i := range bogus {
		bogus[i] = sign(t, "RS256", k.rsa, header("RS256", fmt.Sprintf("bogus-%d", i)), goodClaims())
	}
	for _, err := range verifyAll(j, bogus) {
		if err != errUnknownKid {
			t.Fatalf("bogus kid: %v, want %v", err, errUnknownKid)
		}
	}
	if n := srv.requests.Load(); n != 2 {
		t.Fatalf("%d JWKS requests after bogus kids within the cooldown, want 2", n)
	}

	// After the cooldown, a burst of made-up kids costs exactly one.
	clk.Add(31 * time.Second)
	entered, release = srv.hold()
	go func() { result <- verifyAll(j, bogus) }()
	<-entered
	time.Sleep(50 * time.Millisecond)
	release()
	for _, err := range <-result {
		if err != errUnknownKid {
			t.Fatalf("bogus kid after the cooldown: %v, want %v", err, errUnknownKid)
		}
	}
	if n := srv.requests.Load(); n != 3 {
		t.Fatalf("%d JWKS requests after a burst of bogus kids past the cooldown, want 3", n)
	}

	// The issuer retires k1: after the next refresh its tokens stop, even
	// the cached one, and trigger no request (cooldown).
	srv.set(jwks(jwkOf("k2", "ES256", k.p256)))
	if err := j.Refresh(); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Verify(old); err != errUnknownKid {
		t.Fatalf("token of the removed kid: %v, want %v", err, errUnknownKid)
	}
	if _, err := j.Verify([]byte(tokens[0])); err != nil {
		t.Fatalf("k2 after the refresh: %v", err)
	}
	if n := srv.requests.Load(); n != 4 {
		t.Fatalf("%d JWKS requests, want 4", n)
	}
}

func TestJWKSUnavailableAtStart(t *testing.T) {
	k := keys(t)
	srv := newJWKSServer(t, "")
	srv.status.Store(http.StatusInternalServerError)
	j, clk := newJWKSVerifier(t, srv.URL)
	tok := []byte(sign(t, "EdDSA", k.ed, header("EdDSA", "ed"), goodClaims()))
	if _, err := j.Verify(tok); err != errUnknownKid {
		t.Fatalf("with no JWKS: %v, want %v", err, errUnknownKid)
	}
	srv.status.Store(http.StatusOK)
	srv.set(jwks(jwkOf("ed", "", k.ed)))
	// Within the cooldown of the failed re-read: still refused...
	if _, err := j.Verify(tok); err != errUnknownKid {
		t.Fatalf("within the cooldown: %v", err)
	}
	// ...until the cooldown ends (or the next refresh).
	clk.Add(time.Minute)
	if _, err := j.Verify(tok); err != nil {
		t.Fatalf("once the JWKS is back: %v", err)
	}
	srv.set("not json")
	if err := j.Refresh(); err == nil {
		t.Fatal("Refresh with a broken JWKS succeeded")
	}
	if _, err := j.Verify(tok); err != nil {
		t.Fatalf("after a broken refresh, the previous keys stay: %v", err)
	}
}

func TestJWKSKeySelection(t *testing.T) {
	k := keys(t)
	set := jwks(
		strings.Replace(jwkOf("enc", "", k.rsa), `"use":"sig"`, `"use":"enc"`, 1),
		jwkOf("ps", "PS256", k.rsa),
		jwkOf("weird", "", k.p384), // ES384 is not allowed
		`{"kid":"bad","kty":"RSA"}`,
		jwkOf("ed", "EdDSA", k.ed),
	)
	dir := t.TempDir()
	file := writeFile(t, dir, "jwks.json", []byte(set))
	j, _ := newTestJWT(t, func(o *JWTOptions) {
		o.Keys = nil
		o.JWKSFile = file
	})
	for _, tc := range []struct {
		name, alg, kid string
		key            any
		want           *Error
	}{
		{"signing key", "PS256", "ps", k.rsa, nil},
		{"JWK alg binds the key", "RS256", "ps", k.rsa, errKeyAlg},
		{"encryption key skipped", "RS256", "enc", k.rsa, errUnknownKid},
		{"key of no allowed algorithm skipped", "ES256", "weird", k.p256, errUnknownKid},
		{"broken key skipped, others kept", "EdDSA", "ed", k.ed, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := j.Verify([]byte(sign(t, tc.alg, tc.key, header(tc.alg, tc.kid), goodClaims())))
			if err != tc.want {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
	// The file is re-read on refresh.
	writeFile(t, dir, "jwks.json", []byte(jwks(jwkOf("hs", "HS256", k.hmac))))
	if err := j.Refresh(); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Verify([]byte(sign(t, "HS256", k.hmac, header("HS256", "hs"), goodClaims()))); err != nil {
		t.Fatalf("key added to the file: %v", err)
	}
	if _, err := j.Verify([]byte(sign(t, "PS256", k.rsa, header("PS256", "ps"), goodClaims()))); err != errUnknownKid {
		t.Fatalf("key removed from the file: %v, want %v", err, errUnknownKid)
	}
}

// TestJWKSTimedRefresh checks the background refresh on its own, with no
// Refresh call and no unknown kid to prompt a re-read: a key the issuer
// drops stops working, even for a token the cache already holds, and a
// key it adds starts. The cache's validity runs on the fake clock, which
// stands still, so only a new key generation from the ticker (real time)
// can make the cached token be verified again.
func TestJWKSTimedRefresh(t *testing.T) {
	k := keys(t)
	srv := newJWKSServer(t, jwks(jwkOf("k1", "RS256", k.rsa)))
	j, _ := newTestJWT(t, func(o *JWTOptions) {
		o.Keys = nil
		o.JWKSURL = srv.URL
		o.Refresh = 50 * time.Millisecond
		o.UnknownKidCooldown = 30 * time.Second
		o.FetchTimeout = time.Minute // see newJWKSVerifier
	})
	old := []byte(sign(t, "RS256", k.rsa, header("RS256", "k1"), goodClaims()))
	for i := range 2 { // the second is a cache hit
		if _, err := j.Verify(old); err != nil {
			t.Fatalf("k1, verification %d: %v", i, err)
		}
	}

	srv.set(jwks(jwkOf("k2", "ES256", k.p256)))
	start := srv.requests.Load()
	var last *Error
	eventually(t, 5*time.Second, "the cached k1 token refused after the JWKS dropped k1", func() bool {
		_, last = j.Verify(old)
		return last != nil
	})
	if last != errUnknownKid {
		t.Fatalf("token of the dropped kid: %v, want %v", last, errUnknownKid)
	}
	if n := srv.requests.Load(); n <= start {
		t.Fatalf("k1 refused without a JWKS request (%d before, %d after)", start, n)
	}
	if _, err := j.Verify([]byte(sign(t, "ES256", k.p256, header("ES256", "k2"), goodClaims()))); err != nil {
		t.Fatalf("k2 after the timed refresh: %v", err)
	}
	// The refusal stays: later refreshes read the same set.
	if _, err := j.Verify(old); err != errUnknownKid {
		t.Fatalf("k1 again: %v, want %v", err, errUnknownKid)
	}
}
