package jwtcache

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// The strict verifier of the fuzz targets knows one HMAC and one P-256
// key, so a token without a kid is tried against the one key of its
// algorithm.
const (
	fuzzHMACKid = "hmac-1"
	fuzzECKid   = "es-1"
)

// newFuzzJWT returns a verifier with the HS256 and ES256 test keys, issuer
// and audience checks, 30s leeway and a clock frozen at testStart.
func newFuzzJWT(f *testing.F) *JWT {
	k := keys(f)
	j, err := NewJWT(JWTOptions{
		Issuer:     testIssuer,
		Audiences:  []string{"api"},
		Leeway:     30 * time.Second,
		Algorithms: []string{"HS256", "ES256"},
		Keys: []StaticKey{
			{Kid: fuzzHMACKid, Alg: "HS256", Secret: k.hmac},
			{Kid: fuzzECKid, PEM: pemOf(f, k.p256)},
		},
		ClaimsToHeaders: map[string]string{"sub": "X-User-ID", "tenant_id": "X-Tenant-ID", "roles": "X-Roles"},
		CacheEntries:    64,
		Now:             func() time.Time { return testStart },
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(j.Close)
	return j
}

// fuzzTokens are genuine tokens of the fuzz verifier's keys: accepted, and
// the starting points of FuzzVerifyMutated.
func fuzzTokens(f *testing.F) []string {
	k := keys(f)
	exp := testStart.Unix() + 3600
	return []string{
		sign(f, "HS256", k.hmac, header("HS256", fuzzHMACKid), goodClaims("tenant_id", "t1", "roles", []string{"a", "b"})),
		sign(f, "HS256", k.hmac, `{"alg":"HS256"}`, claims("iss", testIssuer, "aud", []string{"web", "api"}, "exp", exp, "nbf", testStart.Unix())),
		sign(f, "ES256", k.p256, header("ES256", fuzzECKid), goodClaims()),
		sign(f, "ES256", k.p256, `{"alg":"ES256"}`, claims("sub", "u2", "aud", "api", "iss", testIssuer, "exp", float64(exp)+0.5)),
	}
}

// FuzzVerifyStrict feeds arbitrary tokens to a verifier with an HS256 and
// an ES256 key. Whatever it accepts, and whatever it forbids for its
// audience (403 asserts the token is genuine), must pass stdlibVerify: a
// verification written with crypto/hmac, crypto/ecdsa and encoding/json
// alone. An accepted token must also carry the identity its claims say.
func FuzzVerifyStrict(f *testing.F) {
	j := newFuzzJWT(f)
	k := keys(f)
	for _, tok := range fuzzTokens(f) {
		f.Add(tok)
	}
	for _, tok := range []string{
		sign(f, "HS256", k.hmac, header("HS256", fuzzECKid), goodClaims()),
		sign(f, "HS256", k.hmac, header("HS256", fuzzHMACKid), claims("iss", testIssuer, "aud", "other", "exp", testStart.Unix()+60)),
		sign(f, "HS256", k.hmac, `{"alg":"HS256","ALG":"none"}`, goodClaims()),
		sign(f, "HS256", k.hmac, header("HS256", ""), claims("iss", testIssuer, "aud", "api", "exp", testStart.Unix()-31)),
		sign(f, "HS256", k.hmac, header("HS256", ""), claims("iss", testIssuer, "aud", "api", "exp", "4102444800")),
		sign(f, "HS384", k.hmac, header("HS384", fuzzHMACKid), goodClaims()),
		sign(f, "ES256", k.p256, header("ES256", fuzzHMACKid), goodClaims()),
		"eyJhbGciOiJub25lIn0.e30.",
		"a.b.c.d",
		"",
	} {
		f.Add(tok)
	}
	f.Fuzz(func(t *testing.T, token string) {
		checkVerdict(t, j, token)
	})
}

// FuzzVerifyMutated starts from a genuine token and alters it the way a
// forger would: flip bits of one byte, cut the token, or splice bytes in.
// The verdict on the result obeys the same rule as in FuzzVerifyStrict.
func FuzzVerifyMutated(f *testing.F) {
	j := newFuzzJWT(f)
	tokens := fuzzTokens(f)
	for i := range tokens {
		f.Add(uint8(i), uint8(0), uint16(10), uint8(1), []byte(nil))
		f.Add(uint8(i), uint8(1), uint16(len(tokens[i])-1), uint8(0), []byte(nil))
		f.Add(uint8(i), uint8(2), uint16(len(tokens[i])/2), uint8(0), []byte(`","sub":"admin`))
	}
	f.Add(uint8(2), uint8(0), uint16(len(tokens[2])-3), uint8(0x20), []byte(nil))
	f.Fuzz(func(t *testing.T, which, op uint8, pos uint16, mask uint8, splice []byte) {
		tok := []byte(tokens[int(which)%len(tokens)])
		at := int(pos) % len(tok)
		switch op % 3 {
		case 0:
			tok[at] ^= mask
		case 1:
			tok = tok[:at]
		case 2:
			tok = slices.Concat(tok[:at], splice, tok[at:])
		}
		checkVerdict(t, j, string(tok))
	})
}

// checkVerdict verifies token with j and holds the verdict to
// stdlibVerify.
func checkVerdict(t *testing.T, j *JWT, token string) {
	t.Helper()
	id, err := j.Verify([]byte(token))
	if err == nil || err == errAudience {
		c, why := stdlibVerify(keys(t), token, err == nil)
		if why != "" {
			t.Fatalf("Verify(%q) = %v, %v; but %s", token, id, err, why)
		}
		if err == nil {
			checkIdentity(t, token, id, c)
		}
		return
	}
	if id != nil || err.Status == 0 || err.Reason == "" {
		t.Fatalf("Verify(%q) refused with identity %v and error %+v", token, id, err)
	}
}

// fuzzClaims are the claims stdlibVerify reads.
type fuzzClaims struct {
	Sub      *string `json:"sub"`
	TenantID *string `json:"tenant_id"`
	// Exp is the expiry in seconds, clamped as NumericDates are to about
	// 272 years around 1970.
	Exp float64 `json:"-"`
}

// stdlibVerify checks token as the fuzz verifier must: three canonical
// base64url parts; a header whose alg is HS256 or ES256, with no kid or
// the kid of that algorithm's key; a signature that verifies with the test
// key; exp and nbf around testStart within the 30s leeway; the test
// issuer; and, when wantAudience, the audience "api". It returns the
// claims, or why the token should have been refused.
func stdlibVerify(k *testKeys, token string, wantAudience bool) (fuzzClaims, string) {
	var c fuzzClaims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, "it does not have three parts"
	}
	var raw [3][]byte
	for i, p := range parts {
		b, err := base64.RawURLEncoding.Strict().DecodeString(p)
		if err != nil {
			return c, "part " + string(rune('1'+i)) + " is not canonical base64url"
		}
		raw[i] = b
	}
	var hdr map[string]json.RawMessage
	if json.Unmarshal(raw[0], &hdr) != nil {
		return c, "its header is not a JSON object"
	}
	var alg, kid string
	if json.Unmarshal(hdr["alg"], &alg) != nil {
		return c, "its alg is not a string"
	}
	if v, ok := hdr["kid"]; ok && json.Unmarshal(v, &kid) != nil {
		return c, "its kid is not a string"
	}
	signed := []byte(parts[0] + "." + parts[1])
	switch {
	case alg == "HS256" && (kid == "" || kid == fuzzHMACKid):
		m := hmac.New(sha256.New, k.hmac)
		m.Write(signed)
		if !hmac.Equal(m.Sum(nil), raw[2]) {
			return c, "its HMAC does not verify"
		}
	case alg == "ES256" && (kid == "" || kid == fuzzECKid):
		sum := sha256.Sum256(signed)
		if len(raw[2]) != 64 {
			return c, "its ECDSA signature is not 64 bytes"
		}
		r, s := new(big.Int).SetBytes(raw[2][:32]), new(big.Int).SetBytes(raw[2][32:])
		if !ecdsa.Verify(&k.p256.PublicKey, sum[:], r, s) {
			return c, "its ECDSA signature does not verify"
		}
	default:
		return c, "alg " + alg + " with kid " + kid + " names no test key"
	}

	var all map[string]json.RawMessage
	if json.Unmarshal(raw[1], &all) != nil {
		return c, "its payload is not a JSON object"
	}
	var iss string
	var exp, nbf json.Number
	if json.Unmarshal(all["iss"], &iss) != nil || iss != testIssuer {
		return c, "its issuer is not the test issuer"
	}
	if json.Unmarshal(all["exp"], &exp) != nil || exp == "" {
		return c, "its exp is not a number"
	}
	now, leeway := float64(testStart.Unix()), 30.0
	e, err := exp.Float64()
	if err != nil || e+leeway <= now {
		return c, "it has expired"
	}
	if v, ok := all["nbf"]; ok {
		if json.Unmarshal(v, &nbf) != nil || nbf == "" {
			return c, "its nbf is not a number"
		}
		if n, err := nbf.Float64(); err != nil || n-leeway > now {
			return c, "it is not valid yet"
		}
	}
	if wantAudience {
		var one string
		var many []string
		switch {
		case json.Unmarshal(all["aud"], &one) == nil:
			many = []string{one}
		case json.Unmarshal(all["aud"], &many) == nil:
		default:
			return c, "its aud is neither a string nor a list of strings"
		}
		if !slices.Contains(many, "api") {
			return c, "its audience does not include api"
		}
	}
	if json.Unmarshal(raw[1], &c) != nil {
		return c, "its mapped claims do not decode"
	}
	c.Exp = max(-1<<33, min(e, 1<<33))
	return c, ""
}

// checkIdentity compares the identity Verify granted with the claims of
// the token.
func checkIdentity(t *testing.T, token string, id *Identity, c fuzzClaims) {
	t.Helper()
	if c.Sub == nil && len(id.Subject) != 0 || c.Sub != nil && string(id.Subject) != *c.Sub {
		t.Fatalf("Verify(%q): subject %q, claims say %v", token, id.Subject, c.Sub)
	}
	if want := time.Unix(0, int64(c.Exp*1e9)); id.Expires.Sub(want).Abs() > time.Microsecond {
		t.Fatalf("Verify(%q): expires %v, claims say %v", token, id.Expires, want)
	}
	for _, h := range id.Headers {
		if bytes.ContainsFunc(h.Value, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			t.Fatalf("Verify(%q): header %s has control characters: %q", token, h.Name, h.Value)
		}
		if string(h.Name) == "X-User-ID" && (c.Sub == nil || string(h.Value) != *c.Sub) {
			t.Fatalf("Verify(%q): X-User-ID %q, sub %v", token, h.Value, c.Sub)
		}
		if string(h.Name) == "X-Tenant-ID" && (c.TenantID == nil || string(h.Value) != *c.TenantID) {
			t.Fatalf("Verify(%q): X-Tenant-ID %q, tenant_id %v", token, h.Value, c.TenantID)
		}
	}
}

// FuzzCredentials parses arbitrary request headers with fasthttp, as the
// server does, and takes the credentials out of them. A credential is
// never empty and never has blanks around it; it is the header's value
// after the scheme, and nil exactly when the header does not hold one.
// The configured API key header wins over "Authorization: ApiKey".
func FuzzCredentials(f *testing.F) {
	for _, tc := range []struct{ authorization, apiKey string }{
		{"Bearer abc.def.ghi", ""},
		{"bearer   tok  ", ""},
		{"BEARER\ttok", ""},
		{"Bearer ", ""},
		{"Bearertok", ""},
		{"ApiKey gw_abc", ""},
		{"apikey gw_abc", " gw_header "},
		{"Basic dXNlcjpwYXNz", "   "},
		{"Bearer a\x00b", "k\x7f"},
		{"Bearer \u00a0tok\u00a0", ""},
	} {
		f.Add(tc.authorization, tc.apiKey)
	}
	apiKeyHeader := []byte("X-API-Key")
	f.Fuzz(func(t *testing.T, authorization, apiKey string) {
		raw := "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: " + authorization + "\r\nX-API-Key: " + apiKey + "\r\n\r\n"
		var h fasthttp.RequestHeader
		if h.Read(bufio.NewReader(strings.NewReader(raw))) != nil {
			return
		}
		authz := string(h.Peek("Authorization"))

		bearer := BearerToken(&h)
		checkCredential(t, "Bearer", authz, bearer, refScheme(authz, "bearer"))
		key := APIKey(&h, apiKeyHeader)
		want := strings.TrimSpace(string(h.Peek("X-API-Key")))
		if want == "" {
			want = refScheme(authz, "apikey")
		}
		if key == nil && want != "" || key != nil && string(key) != want {
			t.Fatalf("APIKey = %q, want %q (Authorization %q, X-API-Key %q)", key, want, authz, h.Peek("X-API-Key"))
		}
		if key != nil && (len(key) == 0 || strings.TrimSpace(string(key)) != string(key)) {
			t.Fatalf("APIKey = %q has blanks around it", key)
		}
		if LooksLikeJWT(bearer) != (strings.Count(string(bearer), ".") == 2) {
			t.Fatalf("LooksLikeJWT(%q) = %v", bearer, LooksLikeJWT(bearer))
		}
	})
}

// refScheme is the credential of an Authorization value with the given
// scheme, written with the strings package: the scheme in any case, one
// space, then the credential without blanks around it.
func refScheme(v, scheme string) string {
	name, rest, ok := strings.Cut(v, " ")
	if !ok || len(name) != len(scheme) || !strings.EqualFold(name, scheme) {
		return ""
	}
	return strings.TrimSpace(rest)
}

func checkCredential(t *testing.T, scheme, authz string, got []byte, want string) {
	t.Helper()
	if got == nil && want != "" || got != nil && string(got) != want {
		t.Fatalf("%s credential of %q = %q, want %q", scheme, authz, got, want)
	}
	if got != nil && (len(got) == 0 || !strings.Contains(authz, string(got))) {
		t.Fatalf("%s credential %q is not part of %q", scheme, got, authz)
	}
}

// FuzzKeyFile reads arbitrary key files. Whatever readKeyFile accepts
// holds only well-formed, distinct hashes and consumer and plan names that
// can travel in headers, and survives a write and a read unchanged: the
// file `gateway keys` rewrites is the file the gateway reads.
func FuzzKeyFile(f *testing.F) {
	hash := HashKey("gw_fuzz")
	for _, s := range []string{
		"keys:\n  - hash: " + hash + "\n    consumer: acme\n    plan: gold\n    expires_at: 2031-01-01T00:00:00+02:00\n    revoked: true\n",
		"keys:\n  - {hash: " + hash + ", consumer: a}\n  - {hash: " + hash + ", consumer: b}\n",
		"keys:\n  - {hash: " + strings.ToUpper(hash) + ", consumer: a}\n",
		"keys:\n  - {hash: " + hash + ", consumer: \"a\\r\\nX-Admin: 1\"}\n",
		"keys:\n  - {hash: " + hash + ", consumer: a, extra: 1}\n",
		"keys: []\n",
		"",
		"keys: [*a]\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	in, out := filepath.Join(dir, "in.yaml"), filepath.Join(dir, "out.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(in, data, 0o600); err != nil {
			t.Fatal(err)
		}
		recs, err := readKeyFile(in)
		if err != nil {
			if recs != nil || !strings.HasPrefix(err.Error(), "jwtcache: key file ") {
				t.Fatalf("readKeyFile refused with records %v and error %v", recs, err)
			}
			return
		}
		seen := make(map[string]bool)
		for _, r := range recs {
			if !validHash(r.Hash) || seen[r.Hash] || checkName("consumer", r.Consumer, true) != nil || checkName("plan", r.Plan, false) != nil {
				t.Fatalf("readKeyFile accepted %+v", r)
			}
			seen[r.Hash] = true
		}
		if err := writeKeyFile(out, recs); err != nil {
			t.Fatalf("writeKeyFile of accepted records: %v", err)
		}
		back, err := readKeyFile(out)
		if err != nil {
			t.Fatalf("reading back a written key file: %v", err)
		}
		if len(back) != len(recs) {
			t.Fatalf("read back %d records, wrote %d", len(back), len(recs))
		}
		for i := range recs {
			a, b := recs[i], back[i]
			if a.Hash != b.Hash || a.Consumer != b.Consumer || a.Plan != b.Plan || a.Revoked != b.Revoked || !a.ExpiresAt.Equal(b.ExpiresAt) {
				t.Fatalf("record %d read back as %+v, written %+v", i, b, a)
			}
		}
	})
}
