package jwtcache

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

const testIssuer = "https://issuer.test"

// newTestJWT returns a verifier with an HMAC, an RSA, a P-256 and an
// Ed25519 key, issuer and audience checks, 30s leeway and a settable clock.
func newTestJWT(t testing.TB, mutate func(*JWTOptions)) (*JWT, *clock) {
	t.Helper()
	k := keys(t)
	clk := newClock(testStart)
	o := JWTOptions{
		Issuer:     testIssuer,
		Audiences:  []string{"api", "admin-api"},
		Leeway:     30 * time.Second,
		Algorithms: []string{"HS256", "RS256", "PS256", "ES256", "EdDSA"},
		Keys: []StaticKey{
			{Kid: "hmac-1", Alg: "HS256", Secret: k.hmac},
			{Kid: "rsa-1", PEM: pemOf(t, k.rsa)},
			{Kid: "es-1", PEM: pemOf(t, k.p256)},
			{Kid: "ed-1", PEM: pemOf(t, k.ed)},
		},
		ClaimsToHeaders: map[string]string{"sub": "X-User-ID", "tenant_id": "X-Tenant-ID", "roles": "X-Roles"},
		CacheEntries:    1000,
		Now:             clk.Now,
		Log:             zaptest.NewLogger(t),
	}
	if mutate != nil {
		mutate(&o)
	}
	j, err := NewJWT(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(j.Close)
	return j, clk
}

// goodClaims are valid claims at testStart, with extra pairs appended
// (a repeated name is the caller's point).
func goodClaims(extra ...any) string {
	kv := []any{"iss", testIssuer, "sub", "u1", "aud", "api", "exp", testStart.Unix() + 3600}
	return claims(append(kv, extra...)...)
}

func TestJWTAttacks(t *testing.T) {
	j, _ := newTestJWT(t, nil)
	k := keys(t)
	now := testStart.Unix()
	rsaGood := sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), goodClaims())
	parts := strings.Split(rsaGood, ".")
	esGood := sign(t, "ES256", k.p256, header("ES256", "es-1"), goodClaims())

	tests := []struct {
		name  string
		token string
		want  *Error
	}{
		{"alg none, no signature", b64.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".", errMalformed},
		{"alg none, with signature", b64.EncodeToString([]byte(`{"alg":"none","kid":"rsa-1"}`)) + "." + parts[1] + "." + parts[2], errAlgorithm},
		{"alg NONE", sign(t, "HS256", k.hmac, `{"alg":"NONE"}`, goodClaims()), errAlgorithm},
		{"HS256 signed with the RSA public key PEM, RSA kid", sign(t, "HS256", pemOf(t, k.rsa), header("HS256", "rsa-1"), goodClaims()), errKeyAlg},
		{"HS256 signed with the RSA public key PEM, no kid", sign(t, "HS256", pemOf(t, k.rsa), header("HS256", ""), goodClaims()), errSignature},
		{"algorithm outside the allow-list", sign(t, "RS512", k.rsa, header("RS512", "rsa-1"), goodClaims()), errAlgorithm},
		{"ES256 kid used with EdDSA", sign(t, "EdDSA", k.ed, header("EdDSA", "es-1"), goodClaims()), errKeyAlg},
		{"signed by another RSA key", sign(t, "RS256", k.rsaOther, header("RS256", "rsa-1"), goodClaims()), errSignature},
		{"expired beyond leeway", sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), claims("iss", testIssuer, "aud", "api", "exp", now-31)), errExpired},
		{"nbf beyond leeway", sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), goodClaims("nbf", now+31)), errNotYetValid},
		{"nbf as a string", sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), goodClaims("nbf", "0")), errMalformed},
		{"wrong issuer", sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), claims("iss", "https://evil.test", "aud", "api", "exp", now+60)), errIssuer},
		{"no issuer", sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), claims("aud", "api", "exp", now+60)), errIssuer},
		{"wrong audience", sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), claims("iss", testIssuer, "aud", []string{"other", "web"}, "exp", now+60)), errAudience},
		{"missing audience", sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), claims("iss", testIssuer, "exp", now+60)), errNoAudience},
		{"audience not a string", sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), claims("iss", testIssuer, "aud", 7, "exp", now+60)), errMalformed},
		{"missing exp", sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), claims("iss", testIssuer, "aud", "api")), errNoExpiry},
		{"exp as a string", sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), claims("iss", testIssuer, "aud", "api", "exp", "99999999999")), errMalformed},
		{"exp null", sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), claims("iss", testIssuer, "aud", "api", "exp", nil)), errMalformed},
		{"unknown kid", sign(t, "RS256", k.rsa, header("RS256", "rsa-9"), goodClaims()), errUnknownKid},
		{"kid not a string", sign(t, "RS256", k.rsa, `{"alg":"RS256","kid":1}`, goodClaims()), errMalformed},
		{"four segments", rsaGood + "." + parts[2], errMalformed},
		{"two segments", parts[0] + "." + parts[1], errMalformed},
		{"crit header", sign(t, "RS256", k.rsa, `{"alg":"RS256","kid":"rsa-1","crit":["exp"],"exp":1}`, goodClaims()), errCrit},
		{"malformed base64", parts[0] + "." + parts[1] + "*." + parts[2], errMalformed},
		{"impossible base64 length", parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-len(parts[2])%4-3], errMalformed},
		{"padded base64", parts[0] + "=." + parts[1] + "." + parts[2], errMalformed},
		{"header not JSON", b64.EncodeToString([]byte("alg=RS256")) + "." + parts[1] + "." + parts[2], errMalformed},
		{"payload an array", sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), `["exp",1]`), errMalformed},
		{"truncated RSA signature", truncateSig(t, rsaGood, 3), errSignature},
		{"truncated ECDSA signature", truncateSig(t, esGood, 3), errSignature},
		{"ECDSA signature one byte short", truncateSig(t, esGood, 1), errSignature},
		{"flipped signature byte", rsaGood[:len(rsaGood)-2] + flip(rsaGood[len(rsaGood)-2]) + rsaGood[len(rsaGood)-1:], errSignature},
		{"oversized token", sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), goodClaims("pad", strings.Repeat("x", 9000))), errTooLarge},
		{"duplicate claim", sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), goodClaims("sub", "admin")), errDuplicate},
		{"duplicate claim, escaped name", sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), strings.TrimSuffix(goodClaims(), "}")+`,"s\u0075b":"admin"}`), errDuplicate},
		{"duplicate header name", sign(t, "RS256", k.rsa, `{"alg":"RS256","kid":"rsa-1","kid":"hmac-1"}`, goodClaims()), errDuplicate},
		{"header name in two cases", sign(t, "RS256", k.rsa, `{"alg":"RS256","kid":"rsa-1","ALG":"HS256"}`, goodClaims()), errDuplicate},
		{"header name with Kelvin sign", sign(t, "RS256", k.rsa, `{"alg":"RS256","kid":"rsa-1","\u212aid":"hmac-1"}`, goodClaims()), errDuplicate},
		{"newline in a mapped claim", sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), goodClaims("tenant_id", "t1\r\nX-Admin: 1")), errHeaderValue},
		{"NUL in a mapped array claim", sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), goodClaims("roles", []string{"a", "b\x00"})), errHeaderValue},
		{"comma inside a mapped array element", sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), goodClaims("roles", []string{"reader", "a,admin"})), errHeaderValue},
		{"sub not a string", sign(t, "RS256", k.rsa, header("RS256", "rsa-1"), claims("iss", testIssuer, "aud", "api", "exp", now+60, "sub", 5)), errMalformed},
	}
	// The unaltered tokens pass, so each refusal below is the alteration's.
	for _, good := range []string{rsaGood, esGood} {
		if _, err := j.Verify([]byte(good)); err != nil {
			t.Fatalf("unaltered token refused: %v", err)
		}
	}
	j.cache = newTokenCache[*Identity](1000)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := j.Verify([]byte(tc.token))
			if err != tc.want {
				t.Fatalf("Verify = %v, %v; want refusal %q (%d)", id, err, tc.want.Reason, tc.want.Status)
			}
			if id != nil {
				t.Fatal("identity returned with a refusal")
			}
		})
	}
	if errAudience.Status != http.StatusForbidden {
		t.Fatalf("wrong audience answers %d, want 403", errAudience.Status)
	}
	if got := j.cache.len(); got != 0 {
		t.Fatalf("%d refused tokens cached", got)
	}
}

// truncateSig drops the last n bytes of a token's signature.
func truncateSig(t testing.TB, token string, n int) string {
	t.Helper()
	i := strings.LastIndexByte(token, '.')
	sig, err := b64.DecodeString(token[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	return token[:i+1] + b64.EncodeToString(sig[:len(sig)-n])
}

// flip returns another base64url character than c.
func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestJWTEveryAlgorithm(t *testing.T) {
	k := keys(t)
	all := make([]string, len(algorithms))
	for i, a := range algorithms {
		all[i] = a.name
	}
	j, _ := newTestJWT(t, func(o *JWTOptions) {
		o.Algorithms = all
		o.Keys = []StaticKey{
			{Kid: "hmac", Secret: k.hmac},
			{Kid: "rsa", PEM: pemOf(t, k.rsa)},
			{Kid: "p256", PEM: pemOf(t, k.p256)},
			{Kid: "p384", PEM: pemOf(t, k.p384)},
			{Kid: "p521", PEM: pemOf(t, k.p521)},
			{Kid: "ed", PEM: pemOf(t, k.ed)},
		}
	})
	signers := map[string]struct {
		kid string
		key any
	}{
		"HS": {"hmac", k.hmac}, "RS": {"rsa", k.rsa}, "PS": {"rsa", k.rsa},
		"ES256": {"p256", k.p256}, "ES384": {"p384", k.p384}, "ES512": {"p521", k.p521},
		"EdDSA": {"ed", k.ed},
	}
	for _, name := range all {
		t.Run(name, func(t *testing.T) {
			s, ok := signers[name]
			if !ok {
				s = signers[name[:2]]
			}
			id, err := j.Verify([]byte(sign(t, name, s.key, header(name, s.kid), goodClaims())))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if string(id.Subject) != "u1" || !id.Expires.Equal(time.Unix(testStart.Unix()+3600, 0)) {
				t.Fatalf("identity %+v", id)
			}
		})
	}
	// A P-384 key never verifies ES256, even when both are allowed.
	tok := sign(t, "ES256", k.p256, header("ES256", "p384"), goodClaims())
	if _, err := j.Verify([]byte(tok)); err != errKeyAlg {
		t.Fatalf("ES256 with a P-384 kid: %v, want %v", err, errKeyAlg)
	}
}

func TestJWTKeyAlgRestriction(t *testing.T) {
	k := keys(t)
	j, _ := newTestJWT(t, func(o *JWTOptions) {
		o.Algorithms = []string{"RS256", "PS256"}
		o.Keys = []StaticKey{{Kid: "rsa", Alg: "PS256", PEM: pemOf(t, k.rsa)}}
	})
	if _, err := j.Verify([]byte(sign(t, "PS256", k.rsa, header("PS256", "rsa"), goodClaims()))); err != nil {
		t.Fatalf("PS256: %v", err)
	}
	if _, err := j.Verify([]byte(sign(t, "RS256", k.rsa, header("RS256", "rsa"), goodClaims()))); err != errKeyAlg {
		t.Fatalf("RS256 with a PS256 key: %v, want %v", err, errKeyAlg)
	}
}

func TestJWTConfigErrors(t *testing.T) {
	k := keys(t)
	for _, tc := range []struct {
		name string
		o    JWTOptions
		want string
	}{
		{"none allowed", JWTOptions{Algorithms: []string{"RS256", "none"}, Keys: []StaticKey{{PEM: pemOf(t, k.rsa)}}}, `"none" is never allowed`},
		{"no algorithms", JWTOptions{Keys: []StaticKey{{PEM: pemOf(t, k.rsa)}}}, "no algorithm allowed"},
		{"no keys", JWTOptions{Algorithms: []string{"RS256"}}, "needs keys or a JWKS"},
		{"HMAC alg on an RSA key", JWTOptions{Algorithms: []string{"HS256", "RS256"}, Keys: []StaticKey{{Alg: "HS256", PEM: pemOf(t, k.rsa)}}}, "HS256 needs an HMAC secret, but the key is an RSA public key"},
		{"key of no allowed kind", JWTOptions{Algorithms: []string{"HS256"}, Keys: []StaticKey{{PEM: pemOf(t, k.rsa)}}}, "no allowed algorithm"},
		{"private key", JWTOptions{Algorithms: []string{"RS256"}, Keys: []StaticKey{{PEM: []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}}}, "private key"},
		{"empty secret env", JWTOptions{Algorithms: []string{"HS256"}, Keys: []StaticKey{{SecretEnv: "JWTCACHE_TEST_UNSET"}}, Getenv: func(string) string { return "" }}, "JWTCACHE_TEST_UNSET is empty"},
		{"missing PEM file", JWTOptions{Algorithms: []string{"RS256"}, Keys: []StaticKey{{PEMFile: "/nonexistent/key.pem"}}}, "no such file"},
		{"URL and file", JWTOptions{Algorithms: []string{"RS256"}, JWKSURL: "http://127.0.0.1:1/", JWKSFile: "x"}, "not both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := NewJWT(tc.o)
			if err == nil {
				j.Close()
				t.Fatal("NewJWT succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

func TestJWTLeeway(t *testing.T) {
	j, clk := newTestJWT(t, nil)
	k := keys(t)
	now := testStart.Unix()
	// exp 10s ago and nbf 10s ahead: both within the 30s leeway.
	tok := []byte(sign(t, "ES256", k.p256, header("ES256", "es-1"), claims("iss", testIssuer, "aud", "api", "exp", now-10, "nbf", now+10)))
	if _, err := j.Verify(tok); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	// The cached entry ends where the leeway ends, read on the clock at
	// every hit.
	clk.Add(19 * time.Second)
	if _, err := j.Verify(tok); err != nil {
		t.Fatalf("1s before the leeway ends: %v", err)
	}
	clk.Add(time.Second)
	if _, err := j.Verify(tok); err != errExpired {
		t.Fatalf("at exp + leeway: %v, want %v", err, errExpired)
	}
	// Fractional NumericDates are allowed.
	tok = []byte(sign(t, "ES256", k.p256, header("ES256", "es-1"), claims("iss", testIssuer, "aud", "api", "exp", float64(clk.Unix())+0.5)))
	if _, err := j.Verify(tok); err != nil {
		t.Fatalf("fractional exp: %v", err)
	}
}

func TestJWTClaimsToHeaders(t *testing.T) {
	j, _ := newTestJWT(t, nil)
	k := keys(t)
	tok := sign(t, "EdDSA", k.ed, header("EdDSA", "ed-1"), goodClaims(
		"tenant_id", 42.5, "roles", []string{"reader", "writer"}, "scope", "x"))
	id, err := j.Verify([]byte(tok))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"X-Roles: reader,writer", "X-User-ID: u1", "X-Tenant-ID: 42.5"}
	if got := headerLines(id); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("headers %q, want %q (claim-name order)", got, want)
	}
	// Types without a text form are skipped, and so are empty values.
	tok = sign(t, "EdDSA", k.ed, header("EdDSA", "ed-1"), goodClaims(
		"tenant_id", map[string]int{"id": 1}, "roles", []any{"a", 1}))
	if id, err = j.Verify([]byte(tok)); err != nil {
		t.Fatal(err)
	}
	if got := headerLines(id); len(got) != 1 || got[0] != "X-User-ID: u1" {
		t.Fatalf("headers %q, want only X-User-ID", got)
	}
	tok = sign(t, "EdDSA", k.ed, header("EdDSA", "ed-1"), claims("iss", testIssuer, "aud", "api", "exp", testStart.Unix()+60, "tenant_id", true, "roles", []string{}))
	if id, err = j.Verify([]byte(tok)); err != nil {
		t.Fatal(err)
	}
	if len(id.Headers) != 0 || id.Subject != nil {
		t.Fatalf("identity %+v, want no headers and no subject", id)
	}
}

func headerLines(id *Identity) []string {
	var out []string
	for _, h := range id.Headers {
		out = append(out, string(h.Name)+": "+string(h.Value))
	}
	return out
}

func TestJWTKidlessTokens(t *testing.T) {
	k := keys(t)
	// One key that can verify RS256: a token without kid is checked with it.
	j, _ := newTestJWT(t, nil)
	if _, err := j.Verify([]byte(sign(t, "RS256", k.rsa, header("RS256", ""), goodClaims()))); err != nil {
		t.Fatalf("one RSA key, no kid: %v", err)
	}
	// Two: there is nothing to choose by but trial, so it is refused.
	j2, _ := newTestJWT(t, func(o *JWTOptions) {
		o.Keys = append(o.Keys, StaticKey{Kid: "rsa-2", PEM: pemOf(t, k.rsaOther)})
	})
	if _, err := j2.Verify([]byte(sign(t, "RS256", k.rsa, header("RS256", ""), goodClaims()))); err != errNoKid {
		t.Fatalf("two RSA keys, no kid: %v, want %v", err, errNoKid)
	}
	if _, err := j2.Verify([]byte(sign(t, "RS256", k.rsaOther, header("RS256", "rsa-2"), goodClaims()))); err != nil {
		t.Fatalf("second RSA key by kid: %v", err)
	}
}

func TestJWTCacheHitAndKeyRemoval(t *testing.T) {
	k := keys(t)
	dir := t.TempDir()
	secret := writeFile(t, dir, "secret", []byte("first-secret-of-at-least-32-bytes\n"))
	pemFile := writeFile(t, dir, "rsa.pem", pemOf(t, k.rsa))
	j, _ := newTestJWT(t, func(o *JWTOptions) {
		o.Keys = []StaticKey{{Kid: "h", Alg: "HS256", SecretFile: secret}, {Kid: "r", PEMFile: pemFile}}
	})
	hs := []byte(sign(t, "HS256", []byte("first-secret-of-at-least-32-bytes"), header("HS256", "h"), goodClaims()))
	rs := []byte(sign(t, "RS256", k.rsa, header("RS256", "r"), goodClaims()))
	id1, err := j.Verify(hs)
	if err != nil {
		t.Fatal(err)
	}
	if id2, _ := j.Verify(hs); id2 != id1 {
		t.Fatal("second Verify did not return the cached identity")
	}
	if _, err := j.Verify(rs); err != nil {
		t.Fatal(err)
	}

	// Replace the secret: tokens signed with the old one stop at the next
	// refresh, cached or not; new ones work. The RSA key is unchanged, but
	// the generation moved, so its token is verified again (and passes).
	writeFile(t, dir, "secret", []byte("second-secret-of-at-least-32-byte"))
	if err := j.Refresh(); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Verify(hs); err != errSignature {
		t.Fatalf("token of the replaced secret: %v, want %v", err, errSignature)
	}
	if _, err := j.Verify([]byte(sign(t, "HS256", []byte("second-secret-of-at-least-32-byte"), header("HS256", "h"), goodClaims()))); err != nil {
		t.Fatalf("token of the new secret: %v", err)
	}
	if _, err := j.Verify(rs); err != nil {
		t.Fatalf("RSA token after the refresh: %v", err)
	}

	// A refresh that cannot read a key keeps the previous one.
	if err := os.Remove(pemFile); err != nil {
		t.Fatal(err)
	}
	if err := j.Refresh(); err == nil || !strings.Contains(err.Error(), filepath.Base(pemFile)) {
		t.Fatalf("Refresh with a missing PEM file: %v", err)
	}
	if _, err := j.Verify(rs); err != nil {
		t.Fatalf("RSA token after a failed refresh: %v", err)
	}
}

func TestJWTSecretFromEnv(t *testing.T) {
	env := map[string]string{"JWT_SECRET": "env-secret-of-at-least-32-bytes!"}
	j, _ := newTestJWT(t, func(o *JWTOptions) {
		o.Keys = []StaticKey{{Kid: "h", SecretEnv: "JWT_SECRET"}}
		o.Getenv = func(name string) string { return env[name] }
	})
	tok := sign(t, "HS256", []byte(env["JWT_SECRET"]), header("HS256", "h"), goodClaims())
	if _, err := j.Verify([]byte(tok)); err != nil {
		t.Fatal(err)
	}
}

func TestJWTEmptyToken(t *testing.T) {
	j, _ := newTestJWT(t, nil)
	if _, err := j.Verify(nil); err != ErrNoCredential {
		t.Fatalf("empty token: %v", err)
	}
}
