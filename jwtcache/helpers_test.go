package jwtcache

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testKeys are signing keys made once per test binary: RSA key generation
// takes long enough to matter on a shared 2-core machine.
type testKeys struct {
	hmac             []byte
	rsa, rsaOther    *rsa.PrivateKey
	p256, p384, p521 *ecdsa.PrivateKey
	ed               ed25519.PrivateKey
}

var (
	keysOnce sync.Once
	keysVal  testKeys
)

func keys(t testing.TB) *testKeys {
	t.Helper()
	keysOnce.Do(func() {
		must := func(err error) {
			if err != nil {
				panic(err)
			}
		}
		var err error
		keysVal.hmac = []byte("a-32-byte-secret-for-hs256-tests")
		keysVal.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		keysVal.rsaOther, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		keysVal.p256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		keysVal.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(err)
		keysVal.p521, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		must(err)
		_, keysVal.ed, err = ed25519.GenerateKey(rand.Reader)
		must(err)
	})
	return &keysVal
}

// pemOf returns the PKIX PEM of a private key's public half.
func pemOf(t testing.TB, priv crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

var b64 = base64.RawURLEncoding

// sign builds a token from raw header and payload JSON, signed with key by
// alg, so that tests can craft whatever a forger could.
func sign(t testing.TB, alg string, key any, header, payload string) string {
	t.Helper()
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	sig, err := signature(alg, key, []byte(input))
	if err != nil {
		t.Fatalf("sign %s: %v", alg, err)
	}
	return input + "." + b64.EncodeToString(sig)
}

func signature(alg string, key any, input []byte) ([]byte, error) {
	hashes := map[byte]crypto.Hash{'2': crypto.SHA256, '3': crypto.SHA384, '5': crypto.SHA512}
	if alg == "EdDSA" {
		return ed25519.Sign(key.(ed25519.PrivateKey), input), nil
	}
	h := hashes[alg[2]]
	switch alg[:2] {
	case "HS":
		m := hmac.New(h.New, key.([]byte))
		m.Write(input)
		return m.Sum(nil), nil
	case "RS", "PS":
		d := h.New()
		d.Write(input)
		if alg[0] == 'P' {
			return rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), h, d.Sum(nil), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), h, d.Sum(nil))
	case "ES":
		d := h.New()
		d.Write(input)
		k := key.(*ecdsa.PrivateKey)
		r, s, err := ecdsa.Sign(rand.Reader, k, d.Sum(nil))
		if err != nil {
			return nil, err
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out, nil
	}
	return nil, fmt.Errorf("unknown algorithm %s", alg)
}

// claims renders a payload from name/value pairs, values as Go values
// marshalled to JSON, in the order given.
func claims(kv ...any) string {
	out := []byte{'{'}
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			out = append(out, ',')
		}
		name, _ := json.Marshal(kv[i])
		value, _ := json.Marshal(kv[i+1])
		out = append(append(append(out, name...), ':'), value...)
	}
	return string(append(out, '}'))
}

// header renders a JOSE header with alg and, when not empty, kid.
func header(alg, kid string) string {
	if kid == "" {
		return fmt.Sprintf(`{"alg":%q,"typ":"JWT"}`, alg)
	}
	return fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":"JWT"}`, alg, kid)
}

// clock is a settable clock for Now options.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }
func (c *clock) Unix() int64         { return c.Now().Unix() }

// testStart is the fixed start of test clocks.
var testStart = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// eventually polls cond every 5ms until it holds or within passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}
