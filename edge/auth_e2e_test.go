package edge

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/edgegate/gateway/internal/redistest"
	"github.com/edgegate/gateway/jwtcache"
)

// End-to-end tests of credential checks: a client speaking HTTP to a
// started gateway, recording backends and a real redis-server, all on
// loopback. The jwtcache unit tests cover each check; these pin what a
// client and a backend see through the whole request path.

const (
	authIssuer     = "https://auth.e2e.test"
	authHMACSecret = "a-32-byte-secret-for-e2e-gateway"
	authSecretEnv  = "EDGE_E2E_JWT_SECRET"
)

var (
	authRSAOnce sync.Once
	authRSAKey  *rsa.PrivateKey
)

// authRSA returns an RSA key made once per test binary: generating one
// takes long enough to matter on a shared machine.
func authRSA(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	authRSAOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		authRSAKey = k
	})
	return authRSAKey
}

// authRSAPublicPEM is the PKIX PEM of the test RSA key's public half.
func authRSAPublicPEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&authRSA(t).PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

var authB64 = base64.RawURLEncoding

// authSign builds a compact JWS from raw header and payload JSON, so that
// a test can craft whatever a forger could. key is a []byte HMAC secret
// (HS256), an *rsa.PrivateKey (RS256) or a P-256 *ecdsa.PrivateKey
// (ES256); nil leaves the signature empty.
func authSign(t testing.TB, key any, header, payload string) string {
	t.Helper()
	input := authB64.EncodeToString([]byte(header)) + "." + authB64.EncodeToString([]byte(payload))
	var sig []byte
	switch k := key.(type) {
	case nil:
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case *rsa.PrivateKey:
		d := sha256.Sum256([]byte(input))
		var err error
		if sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:]); err != nil {
			t.Fatal(err)
		}
	case *ecdsa.PrivateKey:
		d := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
		if err != nil {
			t.Fatal(err)
		}
		// JWS wants r and s as fixed-size big-endian halves, not ASN.1.
		size := (k.Curve.Params().BitSize + 7) / 8
		sig = make([]byte, 2*size)
		r.FillBytes(sig[:size])
		s.FillBytes(sig[size:])
	default:
		t.Fatalf("unknown key type %T", key)
	}
	return input + "." + authB64.EncodeToString(sig)
}

// authClaims renders a JSON object from name/value pairs in the order
// given; values are marshalled with encoding/json.
func authClaims(kv ...any) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(kv[i])
		value, _ := json.Marshal(kv[i+1])
		b.Write(name)
		b.WriteByte(':')
		b.Write(value)
	}
	b.WriteByte('}')
	return b.String()
}

const (
	authHS256Header = `{"alg":"HS256","typ":"JWT","kid":"hmac-1"}`
	authRS256Header = `{"alg":"RS256","typ":"JWT","kid":"rsa-1"}`
)

// authGoodClaims are the claims of a token the gateway must accept, with
// extra pairs appended.
func authGoodClaims(extra ...any) string {
	now := time.Now().Unix()
	kv := []any{"sub", "u1", "iss", authIssuer, "aud", "api", "iat", now, "exp", now + 3600,
		"tenant_id", "t1", "roles", []string{"admin", "dev"}, "email", "u1@example.test"}
	return authClaims(append(kv, extra...)...)
}

const authJWTAuth = `
auth:
  jwt:
    issuer: "https://auth.e2e.test"
    audiences: [api]
    leeway: 30s
    algorithms: [RS256, HS256]
    keys:
      - { kid: hmac-1, alg: HS256, secret_env: EDGE_E2E_JWT_SECRET }
      - { kid: rsa-1, alg: RS256, pem_file: "{{pem}}" }
    claims_to_headers: { sub: X-User-ID, tenant_id: X-Tenant-ID, roles: X-Roles, email: X-User-Email }
`

const authJWTConfig = authJWTAuth + `
services:
  a: { instances: ["{{a}}"], timeout: 2s }
routes:
  - { name: private, match: { path: "/private/{rest...}" }, service: a, auth: [jwt] }
  - { name: public, match: { path: "/public/{rest...}" }, service: a }
`

// authJWTVars sets the HMAC secret's env var, writes the RSA public key
// file and returns the config vars naming them and backend a.
func authJWTVars(t *testing.T, a *backend) map[string]string {
	t.Helper()
	t.Setenv(authSecretEnv, authHMACSecret)
	pemPath := filepath.Join(t.TempDir(), "rsa-1.pub")
	if err := os.WriteFile(pemPath, authRSAPublicPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"a": a.addr, "pem": pemPath}
}

// authIdentityNames are the identity headers of CONTRACT.md and the one
// the test configuration adds (X-User-Email), folded the way backends read
// them ('_' as '-', lower case).
var authIdentityNames = []string{"x-user-id", "x-tenant-id", "x-roles", "x-consumer-id", "x-plan", "x-user-email"}

// authIdentityHeaders returns every header a backend received that it
// would read as an identity header, under any spelling, keyed by the
// folded name.
func authIdentityHeaders(h http.Header) map[string][]string {
	out := map[string][]string{}
	for name, values := range h {
		folded := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
		for _, id := range authIdentityNames {
			if folded == id {
				out[folded] = append(out[folded], values...)
			}
		}
	}
	return out
}

// authWantIdentity fails unless the backend received exactly the identity
// headers in want (folded name to value), each once, and no other.
func authWantIdentity(t *testing.T, got seenRequest, want map[string]string) {
	t.Helper()
	ids := authIdentityHeaders(got.Header)
	for name, values := range ids {
		if w, ok := want[name]; !ok || len(values) != 1 || values[0] != w {
			t.Errorf("backend received %s: %q, want %q", name, values, want[name])
		}
	}
	for name, w := range want {
		if _, ok := ids[name]; !ok {
			t.Errorf("backend received no %s, want %q", name, w)
		}
	}
}

// authJWTIdentity is what a backend receives for authGoodClaims.
var authJWTIdentity = map[string]string{"x-user-id": "u1", "x-tenant-id": "t1", "x-roles": "admin,dev", "x-user-email": "u1@example.test"}

// authSpoofed are client-sent copies of identity headers, in several
// spellings.
var authSpoofed = []string{
	"X-User-ID", "admin",
	"X_User_ID", "admin",
	"X-Consumer-ID", "evil",
	"X-Plan", "platinum",
	"X-Tenant-ID", "t-other",
	"X_Roles", "root",
}

// authSpoofedJWT adds a copy of the header the JWT configuration maps a
// claim to.
var authSpoofedJWT = append([]string{"x_user_email", "spoof@evil.test"}, authSpoofed...)

// authWant401 checks a 401 and its challenge: the route's challenge, and when
// a credential was presented, the RFC 6750 error parameters.
func authWant401(t *testing.T, r response, challenge string, presented bool) {
	t.Helper()
	wantError(t, r, 401, "unauthorized")
	got := r.header.Get("WWW-Authenticate")
	if !strings.HasPrefix(got, challenge) {
		t.Fatalf("WWW-Authenticate %q, want it to start with %q", got, challenge)
	}
	if hasErr := strings.Contains(got, `error="invalid_token"`); hasErr != presented {
		t.Fatalf("WWW-Authenticate %q: error parameter present %v, want %v", got, hasErr, presented)
	}
}

func TestAuthE2EJWTAttacks(t *testing.T) {
	a := startBackend(t, "a")
	f := startGateway(t, authJWTConfig, authJWTVars(t, a))
	secret := []byte(authHMACSecret)
	now := time.Now().Unix()
	good := authSign(t, secret, authHS256Header, authGoodClaims())
	parts := strings.Split(good, ".")
	big := strings.Repeat("x", 9000)

	cases := []struct {
		name  string
		token string
		// why is the error_description of the 401, alternatives
		// separated by "|"; empty for a 403.
		why string
	}{
		{"alg none, empty signature", authSign(t, nil, `{"alg":"none","kid":"hmac-1"}`, authGoodClaims()), "malformed token"},
		{"alg none, some signature", authSign(t, secret, `{"alg":"none","kid":"hmac-1"}`, authGoodClaims()), "algorithm not allowed"},
		{"alg None spelled otherwise", authSign(t, secret, `{"alg":"None"}`, authGoodClaims()), "algorithm not allowed"},
		{"HS256 keyed with the RSA public key, its kid", authSign(t, authRSAPublicPEM(t), `{"alg":"HS256","kid":"rsa-1"}`, authGoodClaims()), "algorithm does not match the key"},
		{"HS256 keyed with the RSA public key, no kid", authSign(t, authRSAPublicPEM(t), `{"alg":"HS256"}`, authGoodClaims()), "invalid signature"},
		{"RS256 naming the HMAC kid", authSign(t, authRSA(t), `{"alg":"RS256","kid":"hmac-1"}`, authGoodClaims()), "algorithm does not match the key"},
		{"wrong HMAC secret", authSign(t, []byte("another-32-byte-secret-for-tests"), authHS256Header, authGoodClaims()), "invalid signature"},
		{"expired", authSign(t, secret, authHS256Header, authClaims("sub", "u1", "iss", authIssuer, "aud", "api", "exp", now-3600)), "token expired"},
		{"expired beyond the leeway", authSign(t, secret, authHS256Header, authClaims("sub", "u1", "iss", authIssuer, "aud", "api", "exp", now-120)), "token expired"},
		{"nbf in the future", authSign(t, secret, authHS256Header, authGoodClaims("nbf", now+3600)), "token not yet valid"},
		{"wrong issuer", authSign(t, secret, authHS256Header, authClaims("sub", "u1", "iss", "https://evil.test", "aud", "api", "exp", now+3600)), "wrong issuer"},
		{"no issuer", authSign(t, secret, authHS256Header, authClaims("sub", "u1", "aud", "api", "exp", now+3600)), "wrong issuer"},
		{"wrong audience", authSign(t, secret, authHS256Header, authClaims("sub", "u1", "iss", authIssuer, "aud", "other", "exp", now+3600)), ""},
		{"wrong audience list", authSign(t, secret, authHS256Header, authClaims("sub", "u1", "iss", authIssuer, "aud", []string{"x", "y"}, "exp", now+3600)), ""},
		{"missing audience", authSign(t, secret, authHS256Header, authClaims("sub", "u1", "iss", authIssuer, "exp", now+3600)), "token has no audience"},
		{"missing exp", authSign(t, secret, authHS256Header, authClaims("sub", "u1", "iss", authIssuer, "aud", "api")), "token has no expiry"},
		{"exp as a string", authSign(t, secret, authHS256Header, authClaims("sub", "u1", "iss", authIssuer, "aud", "api", "exp", strconv.FormatInt(now+3600, 10))), "malformed token"},
		{"unknown kid", authSign(t, secret, `{"alg":"HS256","kid":"nobody"}`, authGoodClaims()), "unknown key id"},
		{"four segments", good + ".x", "malformed token"},
		{"four segments, empty fourth", good + ".", "malformed token"},
		{"crit header", authSign(t, secret, `{"alg":"HS256","kid":"hmac-1","crit":["exp"]}`, authGoodClaims()), "critical header extensions are not supported"},
		{"duplicate header name", authSign(t, secret, `{"alg":"HS256","kid":"hmac-1","ALG":"none"}`, authGoodClaims()), "duplicate claim or header name"},
		{"malformed base64", parts[0] + ".*" + parts[1][1:] + "." + parts[2], "malformed token"},
		{"padded base64", parts[0] + "==." + parts[1] + "." + parts[2], "malformed token"},
		{"truncated signature", parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-3], "invalid signature|malformed token"},
		{"signature cut off", parts[0] + "." + parts[1] + ".", "malformed token"},
		{"oversized token", authSign(t, secret, authHS256Header, authGoodClaims("pad", big)), "token too large"},
		{"duplicate claims", authSign(t, secret, authHS256Header, `{"sub":"u1","sub":"admin","iss":"`+authIssuer+`","aud":"api","exp":`+strconv.FormatInt(now+3600, 10)+`}`), "duplicate claim or header name"},
		{"control character in a mapped claim", authSign(t, secret, authHS256Header, authClaims("sub", "u1", "iss", authIssuer, "aud", "api", "exp", now+3600, "tenant_id", "t1\r\nX-User-ID: admin")), "claim not usable as a header value"},
		{"not a JWT at all", "opaque-token", "malformed token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, "GET", f.base+"/private/x", "", append([]string{"Authorization", "Bearer " + c.token}, authSpoofedJWT...)...)
			if c.why == "" {
				wantError(t, r, 403, "forbidden")
				if got := r.header.Get("WWW-Authenticate"); got != "" {
					t.Fatalf("403 with WWW-Authenticate %q", got)
				}
			} else {
				authWant401(t, r, `Bearer realm="gateway"`, true)
				got := r.header.Get("WWW-Authenticate")
				found := false
				for _, why := range strings.Split(c.why, "|") {
					found = found || strings.HasSuffix(got, `error_description="`+why+`"`)
				}
				if !found {
					t.Fatalf("WWW-Authenticate %q, want the reason %q", got, c.why)
				}
			}
			if n := len(a.requests()); n != 0 {
				t.Fatalf("backend received %d requests", n)
			}
		})
	}

	t.Run("no credential", func(t *testing.T) {
		for _, auth := range []string{"", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer\t" + good} {
			var h []string
			if auth != "" {
				h = []string{"Authorization", auth}
			}
			r := do(t, "GET", f.base+"/private/x", "", h...)
			authWant401(t, r, `Bearer realm="gateway"`, false)
			if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="gateway"` {
				t.Fatalf("Authorization %q: WWW-Authenticate %q", auth, got)
			}
		}
		if n := len(a.requests()); n != 0 {
			t.Fatalf("backend received %d requests", n)
		}
	})
}

func TestAuthE2EJWTValid(t *testing.T) {
	a := startBackend(t, "a")
	f := startGateway(t, authJWTConfig, authJWTVars(t, a))
	want := authJWTIdentity

	for _, c := range []struct {
		name  string
		token string
	}{
		{"HS256", authSign(t, []byte(authHMACSecret), authHS256Header, authGoodClaims())},
		{"RS256", authSign(t, authRSA(t), authRS256Header, authGoodClaims())},
		{"expired within the leeway", authSign(t, []byte(authHMACSecret), authHS256Header, authClaims(
			"sub", "u1", "iss", authIssuer, "aud", []string{"other", "api"}, "exp", time.Now().Unix()-2,
			"tenant_id", "t1", "roles", []string{"admin", "dev"}, "email", "u1@example.test"))},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Twice: the second is answered from the token cache.
			for i := range 2 {
				r := do(t, "GET", f.base+"/private/me?q=1", "", append([]string{"Authorization", "bearer " + c.token}, authSpoofedJWT...)...)
				if r.status != 200 {
					t.Fatalf("request %d: status %d: %s", i, r.status, r.body)
				}
				got := a.last(t)
				if got.URI != "/private/me?q=1" {
					t.Fatalf("backend got %q", got.URI)
				}
				authWantIdentity(t, got, want)
			}
		})
	}

	t.Run("token without optional claims sets no headers", func(t *testing.T) {
		now := time.Now().Unix()
		tok := authSign(t, []byte(authHMACSecret), authHS256Header, authClaims("iss", authIssuer, "aud", "api", "exp", now+60))
		r := do(t, "GET", f.base+"/private/x", "", append([]string{"Authorization", "Bearer " + tok}, authSpoofedJWT...)...)
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		authWantIdentity(t, a.last(t), map[string]string{})
	})

	t.Run("public route drops client identity headers", func(t *testing.T) {
		r := do(t, "GET", f.base+"/public/x", "", authSpoofedJWT...)
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		authWantIdentity(t, a.last(t), map[string]string{})
	})
}

// authJWK renders the public half of an RSA or EC key as a signing JWK.
func authJWK(kid, alg string, priv any) string {
	var members string
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		members = `"kty":"RSA","n":"` + authB64.EncodeToString(k.N.Bytes()) + `","e":"` + authB64.EncodeToString(big.NewInt(int64(k.E)).Bytes()) + `"`
	case *ecdsa.PrivateKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		members = `"kty":"EC","crv":"` + k.Curve.Params().Name + `","x":"` + authB64.EncodeToString(k.X.FillBytes(make([]byte, size))) +
			`","y":"` + authB64.EncodeToString(k.Y.FillBytes(make([]byte, size))) + `"`
	default:
		panic("authJWK: unsupported key")
	}
	return `{"kid":"` + kid + `","alg":"` + alg + `","use":"sig",` + members + `}`
}

// authJWKSServer is an issuer's JWKS endpoint on loopback: it serves a key
// set the test changes and counts the requests.
type authJWKSServer struct {
	*httptest.Server
	body     atomic.Pointer[string]
	requests atomic.Int64
}

func authStartJWKS(t *testing.T, keys ...string) *authJWKSServer {
	t.Helper()
	s := &authJWKSServer{}
	s.set(keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		w.Header().Set("Content-Type", "application/jwk-set+json")
		io.WriteString(w, *s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

// set publishes a key set of the given JWKs.
func (s *authJWKSServer) set(keys ...string) {
	body := `{"keys":[` + strings.Join(keys, ",") + `]}`
	s.body.Store(&body)
}

// TestAuthE2EJWKS checks a gateway whose only JWT keys come from a JWKS
// URL, through the whole request path: a key published later works
// without a restart or a refresh (refresh is 1h) because a token naming an
// unknown kid makes the gateway read the JWKS once more, and a made-up kid
// right after costs the issuer nothing (the re-read's cooldown) and
// reaches no backend.
func TestAuthE2EJWKS(t *testing.T) {
	a := startBackend(t, "a")
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k1 := authJWK("k1", "RS256", authRSA(t))
	js := authStartJWKS(t, k1)
	f := startGateway(t, `
auth:
  jwt:
    issuer: "https://auth.e2e.test"
    audiences: [api]
    algorithms: [RS256, ES256]
    jwks: { url: "{{jwks}}", refresh: 1h, unknown_kid_cooldown: 1m }
    claims_to_headers: { sub: X-User-ID }
services: { a: { instances: ["{{a}}"], timeout: 2s } }
routes:
  - { name: private, match: { path: "/private/{rest...}" }, service: a, auth: [jwt] }
`, map[string]string{"a": a.addr, "jwks": js.URL + "/.well-known/jwks.json"})
	url := f.base + "/private/x"
	atStart := js.requests.Load()
	if atStart != 1 {
		t.Fatalf("%d JWKS requests at start, want 1", atStart)
	}

	tok1 := authSign(t, authRSA(t), `{"alg":"RS256","typ":"JWT","kid":"k1"}`, authGoodClaims())
	if r := do(t, "GET", url, "", append([]string{"Authorization", "Bearer " + tok1}, authSpoofed...)...); r.status != 200 {
		t.Fatalf("k1: status %d: %s", r.status, r.body)
	}
	authWantIdentity(t, a.last(t), map[string]string{"x-user-id": "u1"})
	if n := js.requests.Load(); n != atStart {
		t.Fatalf("%d JWKS requests after a known kid, want %d", n, atStart)
	}

	// The issuer publishes k2, then signs with it.
	js.set(k1, authJWK("k2", "ES256", ec))
	now := time.Now().Unix()
	tok2 := authSign(t, ec, `{"alg":"ES256","typ":"JWT","kid":"k2"}`, authClaims("sub", "u2", "iss", authIssuer, "aud", "api", "exp", now+3600))
	if r := do(t, "GET", url, "", append([]string{"Authorization", "Bearer " + tok2}, authSpoofed...)...); r.status != 200 {
		t.Fatalf("k2 once published: status %d: %s", r.status, r.body)
	}
	authWantIdentity(t, a.last(t), map[string]string{"x-user-id": "u2"})
	if n := js.requests.Load(); n != atStart+1 {
		t.Fatalf("%d JWKS requests after the first k2 token, want %d (one re-read)", n, atStart+1)
	}
	// k1 still works beside it.
	if s := authStatus(t, url, "Authorization", "Bearer "+tok1); s != 200 {
		t.Fatalf("k1 after k2 was published: status %d", s)
	}

	// A kid the issuer never published: refused, and not passed on.
	before := len(a.requests())
	bogus := authSign(t, authRSA(t), `{"alg":"RS256","typ":"JWT","kid":"k9"}`, authGoodClaims())
	r := do(t, "GET", url, "", "Authorization", "Bearer "+bogus)
	authWant401(t, r, `Bearer realm="gateway"`, true)
	if got := r.header.Get("WWW-Authenticate"); !strings.HasSuffix(got, `error_description="unknown key id"`) {
		t.Fatalf("WWW-Authenticate %q, want the reason unknown key id", got)
	}
	if n := len(a.requests()) - before; n != 0 {
		t.Fatalf("backend received %d requests with an unknown kid", n)
	}
	if n := js.requests.Load(); n != atStart+1 {
		t.Fatalf("%d JWKS requests after an unknown kid within the cooldown, want %d", n, atStart+1)
	}
}

// authIssueKey issues an API key into store, failing the test on error.
func authIssueKey(t *testing.T, store jwtcache.KeyStore, consumer, plan string, expires time.Duration, now time.Time) (string, jwtcache.KeyRecord) {
	t.Helper()
	raw, rec, err := jwtcache.Issue(context.Background(), store, consumer, plan, expires, now)
	if err != nil {
		t.Fatalf("issue key for %s: %v", consumer, err)
	}
	return raw, rec
}

// authEventually polls cond every 20ms until it holds or within passes; it
// reports whether it held.
func authEventually(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// authStatus sends one request and returns only its status, for poll loops.
func authStatus(t *testing.T, url string, headers ...string) int {
	t.Helper()
	return do(t, "GET", url, "", headers...).status
}

func TestAuthE2EAPIKeysFromFile(t *testing.T) {
	a := startBackend(t, "a")
	keyFile := filepath.Join(t.TempDir(), "api-keys.yaml")
	store := jwtcache.NewFileStore(keyFile)
	raw, rec := authIssueKey(t, store, "acme", "gold", 0, time.Now())
	other, _ := authIssueKey(t, store, "beta", "", time.Hour, time.Now())
	expired, _ := authIssueKey(t, store, "gamma", "free", time.Minute, time.Now().Add(-time.Hour))

	f := startGateway(t, `
auth:
  api_keys: { source: file, file: "{{keys}}" }
services: { a: { instances: ["{{a}}"], timeout: 2s } }
routes:
  - { name: keyed, match: { path: "/k/{rest...}" }, service: a, auth: [api_key] }
`, map[string]string{"a": a.addr, "keys": keyFile})
	url := f.base + "/k/x"

	t.Run("X-API-Key", func(t *testing.T) {
		r := do(t, "GET", url, "", append([]string{"X-API-Key", raw}, authSpoofed...)...)
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		authWantIdentity(t, a.last(t), map[string]string{"x-consumer-id": "acme", "x-plan": "gold"})
	})
	t.Run("Authorization ApiKey", func(t *testing.T) {
		r := do(t, "GET", url, "", append([]string{"Authorization", "ApiKey " + raw}, authSpoofed...)...)
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		authWantIdentity(t, a.last(t), map[string]string{"x-consumer-id": "acme", "x-plan": "gold"})
	})
	t.Run("key without a plan", func(t *testing.T) {
		r := do(t, "GET", url, "", append([]string{"X-API-Key", other}, authSpoofed...)...)
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		authWantIdentity(t, a.last(t), map[string]string{"x-consumer-id": "beta"})
	})

	before := len(a.requests())
	t.Run("refusals", func(t *testing.T) {
		unknown := jwtcache.KeyPrefix + strings.Repeat("A", 43)
		authWant401(t, do(t, "GET", url, "", "X-API-Key", unknown), `ApiKey realm="gateway"`, true)
		authWant401(t, do(t, "GET", url, "", "Authorization", "ApiKey "+unknown), `ApiKey realm="gateway"`, true)
		authWant401(t, do(t, "GET", url, "", "X-API-Key", expired), `ApiKey realm="gateway"`, true)
		authWant401(t, do(t, "GET", url, "", "X-API-Key", strings.Repeat("k", 300)), `ApiKey realm="gateway"`, true)
		r := do(t, "GET", url, "")
		authWant401(t, r, `ApiKey realm="gateway"`, false)
		if got := r.header.Get("WWW-Authenticate"); got != `ApiKey realm="gateway"` {
			t.Fatalf("WWW-Authenticate %q", got)
		}
		// A bearer token is not a credential this route accepts.
		authWant401(t, do(t, "GET", url, "", "Authorization", "Bearer "+raw), `ApiKey realm="gateway"`, false)
		if n := len(a.requests()) - before; n != 0 {
			t.Fatalf("backend received %d refused requests", n)
		}
	})

	t.Run("revoked", func(t *testing.T) {
		if err := jwtcache.Revoke(context.Background(), store, rec.Hash); err != nil {
			t.Fatal(err)
		}
		// The key file is polled about every second.
		if !authEventually(5*time.Second, func() bool { return authStatus(t, url, "X-API-Key", raw) == 403 }) {
			t.Fatal("revoked key still accepted after 5s")
		}
		before := len(a.requests())
		wantError(t, do(t, "GET", url, "", "X-API-Key", raw), 403, "forbidden")
		wantError(t, do(t, "GET", url, "", "Authorization", "ApiKey "+raw), 403, "forbidden")
		if n := len(a.requests()) - before; n != 0 {
			t.Fatalf("backend received %d requests with a revoked key", n)
		}
		if authStatus(t, url, "X-API-Key", other) != 200 {
			t.Fatal("revoking one key refused another")
		}
	})
}

// authRedisClient is a rueidis client for test set-up, closed at cleanup.
func authRedisClient(t *testing.T, addr string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestAuthE2EAPIKeysRedisTwoGateways(t *testing.T) {
	rs := redistest.Start(t)
	a := startBackend(t, "a")
	const cfg = `
redis: { addrs: ["{{redis}}"] }
auth:
  api_keys: { source: redis }
services: { a: { instances: ["{{a}}"], timeout: 2s } }
routes:
  - { name: keyed, match: { path: "/k/{rest...}" }, service: a, auth: [api_key] }
`
	vars := map[string]string{"a": a.addr, "redis": rs.Addr}
	g1, g2 := startGateway(t, cfg, vars), startGateway(t, cfg, vars)
	store := jwtcache.NewRedisStore(authRedisClient(t, rs.Addr))

	raw, rec := authIssueKey(t, store, "acme", "gold", 0, time.Now())
	if v, err := rs.Do("HGET", "apikey:{"+rec.Hash+"}", "consumer"); err != nil || v != "acme" {
		t.Fatalf("redis record: %q %v", v, err)
	}
	for _, g := range []*gatewayFixture{g1, g2} {
		// Twice: the second is answered from the client-side cache.
		for range 2 {
			r := do(t, "GET", g.base+"/k/x", "", append([]string{"X-API-Key", raw}, authSpoofed...)...)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			authWantIdentity(t, a.last(t), map[string]string{"x-consumer-id": "acme", "x-plan": "gold"})
		}
		authWant401(t, do(t, "GET", g.base+"/k/x", "", "X-API-Key", jwtcache.KeyPrefix+"unknown"), `ApiKey realm="gateway"`, true)
	}

	// A key issued after both gateways started works on both at once.
	raw2, _ := authIssueKey(t, store, "beta", "", 0, time.Now())
	for _, g := range []*gatewayFixture{g1, g2} {
		if s := authStatus(t, g.base+"/k/x", "Authorization", "ApiKey "+raw2); s != 200 {
			t.Fatalf("new key: status %d", s)
		}
	}

	// Rotation, on a key of its own so that the steps below keep theirs:
	// right after it, the old key and its successor both work on both
	// gateways, as the old key's consumer and plan; once the grace period
	// is over, only the successor does. Both gateways have the old record
	// cached, so the change of its expiry must reach them from Redis.
	// The grace is 2s because Rotate truncates the end to the second,
	// which leaves the old key at least 1s.
	rotRaw, rotRec := authIssueKey(t, store, "delta", "silver", 0, time.Now())
	rotIdentity := map[string]string{"x-consumer-id": "delta", "x-plan": "silver"}
	for _, g := range []*gatewayFixture{g1, g2} {
		if s := authStatus(t, g.base+"/k/x", "X-API-Key", rotRaw); s != 200 {
			t.Fatalf("key to rotate: status %d", s)
		}
	}
	const grace = 2 * time.Second
	rotated := time.Now()
	successor, _, err := jwtcache.Rotate(context.Background(), store, rotRaw, grace, rotated)
	if err != nil {
		t.Fatal(err)
	}
	graceEnd := rotated.Add(grace).Truncate(time.Second)
	if v, err := rs.Do("HGET", "apikey:{"+rotRec.Hash+"}", "expires_at"); err != nil || v != strconv.FormatInt(graceEnd.Unix(), 10) {
		t.Fatalf("old record expires_at %q, %v; want %d (rotation time plus grace)", v, err, graceEnd.Unix())
	}
	for i, g := range []*gatewayFixture{g1, g2} {
		for _, k := range []struct{ name, raw string }{{"old", rotRaw}, {"new", successor}} {
			r := do(t, "GET", g.base+"/k/x", "", append([]string{"X-API-Key", k.raw}, authSpoofed...)...)
			if r.status != 200 {
				t.Fatalf("gateway %d, %s key within the grace period (%v left): status %d: %s",
					i+1, k.name, time.Until(graceEnd), r.status, r.body)
			}
			authWantIdentity(t, a.last(t), rotIdentity)
		}
	}
	for i, g := range []*gatewayFixture{g1, g2} {
		if !authEventually(time.Until(graceEnd)+2*time.Second, func() bool { return authStatus(t, g.base+"/k/x", "X-API-Key", rotRaw) == 401 }) {
			t.Fatalf("gateway %d still accepts the old key 2s after the grace period", i+1)
		}
		before := len(a.requests())
		authWant401(t, do(t, "GET", g.base+"/k/x", "", "X-API-Key", rotRaw), `ApiKey realm="gateway"`, true)
		if n := len(a.requests()) - before; n != 0 {
			t.Fatalf("gateway %d passed the expired old key on", i+1)
		}
		r := do(t, "GET", g.base+"/k/x", "", "X-API-Key", successor)
		if r.status != 200 {
			t.Fatalf("gateway %d, successor after the grace period: status %d: %s", i+1, r.status, r.body)
		}
		authWantIdentity(t, a.last(t), rotIdentity)
	}

	if err := jwtcache.Revoke(context.Background(), store, rec.Hash); err != nil {
		t.Fatal(err)
	}
	// CONTRACT: the key stops working on every instance within a second.
	revoked := time.Now()
	for i, g := range []*gatewayFixture{g1, g2} {
		if !authEventually(time.Until(revoked.Add(time.Second)), func() bool { return authStatus(t, g.base+"/k/x", "X-API-Key", raw) == 403 }) {
			t.Fatalf("gateway %d still accepts the key a second after its revocation", i+1)
		}
		wantError(t, do(t, "GET", g.base+"/k/x", "", "X-API-Key", raw), 403, "forbidden")
		if s := authStatus(t, g.base+"/k/x", "X-API-Key", raw2); s != 200 {
			t.Fatalf("other key: status %d", s)
		}
	}

	// Redis goes away: a key cannot be checked, which is a 503, not a 401
	// that would lock every client out. (A record cached on the client
	// may serve until the client notices the lost connection and drops
	// its cache.) Once Redis is back (empty), keys issued again work.
	rs.Stop()
	for i, g := range []*gatewayFixture{g1, g2} {
		if !authEventually(5*time.Second, func() bool { return authStatus(t, g.base+"/k/x", "X-API-Key", raw2) == 503 }) {
			t.Fatalf("gateway %d: no 503 within 5s of Redis stopping", i+1)
		}
		wantError(t, do(t, "GET", g.base+"/k/x", "", "X-API-Key", raw2), 503, "unavailable")
		wantError(t, do(t, "GET", g.base+"/k/x", "", "X-API-Key", jwtcache.KeyPrefix+"unknown"), 503, "unavailable")
	}
	rs.Restart()
	raw3, _ := authIssueKey(t, jwtcache.NewRedisStore(authRedisClient(t, rs.Addr)), "gamma", "", 0, time.Now())
	for i, g := range []*gatewayFixture{g1, g2} {
		if !authEventually(5*time.Second, func() bool { return authStatus(t, g.base+"/k/x", "X-API-Key", raw3) == 200 }) {
			t.Fatalf("gateway %d: key not accepted within 5s of Redis coming back", i+1)
		}
	}
}

func TestAuthE2EAnyCredentialSuffices(t *testing.T) {
	a := startBackend(t, "a")
	keyFile := filepath.Join(t.TempDir(), "api-keys.yaml")
	store := jwtcache.NewFileStore(keyFile)
	raw, _ := authIssueKey(t, store, "acme", "gold", 0, time.Now())
	revoked, rec := authIssueKey(t, store, "old", "", 0, time.Now())
	if err := jwtcache.Revoke(context.Background(), store, rec.Hash); err != nil {
		t.Fatal(err)
	}
	vars := authJWTVars(t, a)
	vars["keys"] = keyFile
	f := startGateway(t, authJWTAuth+`
  api_keys: { source: file, file: "{{keys}}" }
services: { a: { instances: ["{{a}}"], timeout: 2s } }
routes:
  - { name: either, match: { path: "/e/{rest...}" }, service: a, auth: [jwt, api_key] }
`, vars)
	url := f.base + "/e/x"
	token := authSign(t, []byte(authHMACSecret), authHS256Header, authGoodClaims())
	const both = `ApiKey realm="gateway", Bearer realm="gateway"`

	r := do(t, "GET", url, "")
	authWant401(t, r, both, false)
	if got := r.header.Get("WWW-Authenticate"); got != both {
		t.Fatalf("WWW-Authenticate %q, want %q", got, both)
	}
	// The reason follows the challenge of the scheme that was refused.
	r = do(t, "GET", url, "", "Authorization", "Bearer "+token+"x")
	authWant401(t, r, both, true)
	if got, want := r.header.Get("WWW-Authenticate"), both+`, error="invalid_token", error_description="invalid signature"`; got != want {
		t.Fatalf("refused token: WWW-Authenticate %q, want %q", got, want)
	}
	const keyLast = `Bearer realm="gateway", ApiKey realm="gateway"`
	r = do(t, "GET", url, "", "X-API-Key", jwtcache.KeyPrefix+"nope")
	authWant401(t, r, keyLast, true)
	if got, want := r.header.Get("WWW-Authenticate"), keyLast+`, error="invalid_token", error_description="unknown API key"`; got != want {
		t.Fatalf("refused key: WWW-Authenticate %q, want %q", got, want)
	}
	wantError(t, do(t, "GET", url, "", "X-API-Key", revoked), 403, "forbidden")
	if n := len(a.requests()); n != 0 {
		t.Fatalf("backend received %d refused requests", n)
	}

	if r := do(t, "GET", url, "", append([]string{"Authorization", "Bearer " + token}, authSpoofedJWT...)...); r.status != 200 {
		t.Fatalf("JWT: status %d: %s", r.status, r.body)
	}
	authWantIdentity(t, a.last(t), authJWTIdentity)

	if r := do(t, "GET", url, "", append([]string{"X-API-Key", raw}, authSpoofedJWT...)...); r.status != 200 {
		t.Fatalf("API key: status %d: %s", r.status, r.body)
	}
	authWantIdentity(t, a.last(t), map[string]string{"x-consumer-id": "acme", "x-plan": "gold"})

	// A bad token next to a good key: the key suffices.
	if r := do(t, "GET", url, "", "Authorization", "Bearer "+token+"x", "X-API-Key", raw); r.status != 200 {
		t.Fatalf("bad token, good key: status %d: %s", r.status, r.body)
	}
	authWantIdentity(t, a.last(t), map[string]string{"x-consumer-id": "acme", "x-plan": "gold"})
	// A good token next to a revoked key: the token suffices.
	if r := do(t, "GET", url, "", "Authorization", "Bearer "+token, "X-API-Key", revoked); r.status != 200 {
		t.Fatalf("good token, revoked key: status %d: %s", r.status, r.body)
	}
	authWantIdentity(t, a.last(t), authJWTIdentity)
	// A bad token next to a revoked key: the more telling refusal.
	wantError(t, do(t, "GET", url, "", "Authorization", "Bearer "+token+"x", "X-API-Key", revoked), 403, "forbidden")

	m := do(t, "GET", "http://"+f.gw.AdminAddr().String()+"/metrics", "").body
	for result, n := range map[string]int{"ok": 4, "unauthorized": 3, "forbidden": 2, "unavailable": 0} {
		if want := `gateway_auth_total{route="either",result="` + result + `"} ` + strconv.Itoa(n); !strings.Contains(m, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// authIntrospectionServer is an RFC 7662 endpoint on loopback that counts its
// calls. Tokens starting with "good" are active.
type authIntrospectionServer struct {
	srv   *http.Server
	addr  string
	calls atomic.Int64
	mu    sync.Mutex
	auth  []string
}

func authStartIntrospection(t *testing.T) *authIntrospectionServer {
	t.Helper()
	s := &authIntrospectionServer{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		s.mu.Lock()
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		if r.Method != "POST" || r.URL.Path != "/introspect" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		token := r.PostFormValue("token")
		w.Header().Set("Content-Type", "application/json")
		if !strings.HasPrefix(token, "good") {
			io.WriteString(w, `{"active":false}`)
			return
		}
		io.WriteString(w, authClaims("active", true, "sub", "u9", "tenant_id", "t9", "roles", []string{"reader"}, "exp", time.Now().Unix()+300))
	})}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// TestAuthE2EIntrospectionOwnClaims checks a gateway that knows opaque
// tokens only: with no auth.jwt there is no JWT mapping to borrow, so
// auth.introspection.claims_to_headers says what backends receive, and
// the headers it names are identity headers, stripped from every client.
func TestAuthE2EIntrospectionOwnClaims(t *testing.T) {
	a := startBackend(t, "a")
	is := authStartIntrospection(t)
	t.Setenv("EDGE_E2E_INTROSPECTION_SECRET", "s3cret")
	f := startGateway(t, `
auth:
  introspection:
    url: "http://{{introspect}}/introspect"
    client_id: gateway
    client_secret_env: EDGE_E2E_INTROSPECTION_SECRET
    claims_to_headers: { sub: X-User-ID, tenant_id: X-Org-ID }
services: { a: { instances: ["{{a}}"], timeout: 2s } }
routes:
  - { name: opaque, match: { path: "/o/{rest...}" }, service: a, auth: [introspection] }
  - { name: public, match: { path: "/p/{rest...}" }, service: a }
`, map[string]string{"a": a.addr, "introspect": is.addr})

	spoofed := []string{"X-Org-ID", "evil", "x_org_id", "evil", "X-User-ID", "admin"}
	if r := do(t, "GET", f.base+"/o/x", "", append([]string{"Authorization", "Bearer good-token"}, spoofed...)...); r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	// Every spelling a backend would read as X-Org-ID, folded.
	orgIDs := func(h http.Header) (values []string) {
		for name, v := range h {
			if strings.ReplaceAll(strings.ToLower(name), "_", "-") == "x-org-id" {
				values = append(values, v...)
			}
		}
		return values
	}
	got := a.last(t).Header
	if v := orgIDs(got); len(v) != 1 || v[0] != "t9" || got.Get("X-User-Id") != "u9" {
		t.Fatalf("backend headers %v, want X-Org-ID t9 and X-User-ID u9 only", got)
	}
	if r := do(t, "GET", f.base+"/p/x", "", spoofed...); r.status != 200 {
		t.Fatalf("public route: status %d: %s", r.status, r.body)
	}
	if got := a.last(t).Header; len(orgIDs(got)) != 0 || got.Get("X-User-Id") != "" {
		t.Fatalf("public route passed client identity headers on: %v", got)
	}
}

func TestAuthE2EIntrospection(t *testing.T) {
	a := startBackend(t, "a")
	is := authStartIntrospection(t)
	vars := authJWTVars(t, a)
	vars["introspect"] = is.addr
	t.Setenv("EDGE_E2E_INTROSPECTION_SECRET", "s3cret")
	f := startGateway(t, authJWTAuth+`
  introspection:
    url: "http://{{introspect}}/introspect"
    client_id: gateway
    client_secret_env: EDGE_E2E_INTROSPECTION_SECRET
    negative_cache: 5s
services: { a: { instances: ["{{a}}"], timeout: 2s } }
routes:
  - { name: opaque, match: { path: "/o/{rest...}" }, service: a, auth: [introspection] }
  - { name: mixed, match: { path: "/m/{rest...}" }, service: a, auth: [jwt, introspection] }
`, vars)

	// An active token passes; the second request is answered from the cache.
	for i := range 2 {
		r := do(t, "GET", f.base+"/o/x", "", append([]string{"Authorization", "Bearer good-token-1"}, authSpoofedJWT...)...)
		if r.status != 200 {
			t.Fatalf("request %d: status %d: %s", i, r.status, r.body)
		}
		authWantIdentity(t, a.last(t), map[string]string{"x-user-id": "u9", "x-tenant-id": "t9", "x-roles": "reader"})
		if n := is.calls.Load(); n != 1 {
			t.Fatalf("after request %d: %d introspection calls, want 1", i, n)
		}
	}
	is.mu.Lock()
	basic := is.auth[0]
	is.mu.Unlock()
	if want := "Basic " + base64.StdEncoding.EncodeToString([]byte("gateway:s3cret")); basic != want {
		t.Fatalf("introspection call authorised with %q, want %q", basic, want)
	}

	// An inactive token is refused, and remembered.
	before := len(a.requests())
	for range 2 {
		authWant401(t, do(t, "GET", f.base+"/o/x", "", "Authorization", "Bearer bad-token"), `Bearer realm="gateway"`, true)
	}
	if n := is.calls.Load(); n != 2 {
		t.Fatalf("%d introspection calls, want 2 (inactive answers are cached)", n)
	}

	// On a route taking both, a JWT is verified locally and an opaque
	// token is introspected.
	token := authSign(t, []byte(authHMACSecret), authHS256Header, authGoodClaims())
	if r := do(t, "GET", f.base+"/m/x", "", "Authorization", "Bearer "+token); r.status != 200 {
		t.Fatalf("JWT on mixed route: status %d: %s", r.status, r.body)
	}
	if r := do(t, "GET", f.base+"/m/x", "", "Authorization", "Bearer good-token-1"); r.status != 200 {
		t.Fatalf("opaque token on mixed route: status %d: %s", r.status, r.body)
	}
	if n := is.calls.Load(); n != 2 {
		t.Fatalf("%d introspection calls, want 2", n)
	}

	// The endpoint goes away: a token not seen before is a 503, never a
	// guess; a cached one still passes.
	is.srv.Close()
	wantError(t, do(t, "GET", f.base+"/o/x", "", "Authorization", "Bearer good-token-2"), 503, "unavailable")
	wantError(t, do(t, "GET", f.base+"/o/x", "", "Authorization", "Bearer good-token-2"), 503, "unavailable")
	if r := do(t, "GET", f.base+"/o/x", "", "Authorization", "Bearer good-token-1"); r.status != 200 {
		t.Fatalf("cached token while the endpoint is down: status %d: %s", r.status, r.body)
	}
	if n := len(a.requests()) - before; n != 3 {
		t.Fatalf("backend received %d requests, want 3", n)
	}
}

// authExpectExchange sends the head of a request with "Expect: 100-continue"
// and reads the gateway's first answer without sending the body. When the
// answer is 100, it sends body and returns the final response.
func authExpectExchange(t *testing.T, addr, head, body string) (interim int, resp *http.Response, respBody string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the answer to the head: %v", err)
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		t.Fatalf("status line %q", line)
	}
	code, _ := strconv.Atoi(f[1])
	if code == 100 {
		if l, _ := br.ReadString('\n'); strings.TrimSpace(l) != "" {
			t.Fatalf("100 Continue followed by %q", l)
		}
		if _, err := io.WriteString(conn, body); err != nil {
			t.Fatal(err)
		}
	} else {
		// Put the status line back for the response parser.
		br = bufio.NewReader(io.MultiReader(strings.NewReader(line), br))
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return code, resp, string(b)
}

func TestAuthE2EExpectContinue(t *testing.T) {
	a := startBackend(t, "a")
	f := startGateway(t, authJWTConfig, authJWTVars(t, a))
	addr := f.gw.Addr().String()
	token := authSign(t, []byte(authHMACSecret), authHS256Header, authGoodClaims())
	const body = "0123456789"
	head := func(auth string) string {
		return "POST /private/upload HTTP/1.1\r\nHost: a\r\n" + auth +
			"Expect: 100-continue\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	}

	for _, c := range []struct{ name, auth string }{
		{"no credential", ""},
		{"bad token", "Authorization: Bearer " + token + "x\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, resp, respBody := authExpectExchange(t, addr, head(c.auth), body)
			if code != 401 || resp.StatusCode != 401 {
				t.Fatalf("answer %d, final %d; want 401 before the body", code, resp.StatusCode)
			}
			if !strings.Contains(respBody, `"code":"unauthorized"`) || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("early 401 without the JSON error or challenge: %q %v", respBody, resp.Header)
			}
			if n := len(a.requests()); n != 0 {
				t.Fatalf("backend received %d requests", n)
			}
		})
	}

	t.Run("valid token", func(t *testing.T) {
		code, resp, respBody := authExpectExchange(t, addr, head("Authorization: Bearer "+token+"\r\n"), body)
		if code != 100 || resp.StatusCode != 200 {
			t.Fatalf("answer %d, final %d: %s", code, resp.StatusCode, respBody)
		}
		got := a.last(t)
		if got.Body != body {
			t.Fatalf("backend got body %q", got.Body)
		}
		authWantIdentity(t, got, authJWTIdentity)
	})
}
