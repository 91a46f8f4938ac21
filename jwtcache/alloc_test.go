//go:build !race

package jwtcache

import (
	"context"
	"testing"
	"time"

	"github.com/edgegate/gateway/internal/redistest"
)

// The race detector allocates on its own, so these run without it.

func assertNoAllocs(t *testing.T, what string, f func()) {
	t.Helper()
	if avg := testing.AllocsPerRun(1000, f); avg != 0 {
		t.Errorf("%s: %v allocations per call, want 0", what, avg)
	}
}

func TestCredentialExtractionDoesNotAllocate(t *testing.T) {
	h := requestHeader("Authorization", "Bearer abc.def.ghi", "X-API-Key", "gw_key")
	apiKeyHeader := []byte("X-API-Key")
	assertNoAllocs(t, "BearerToken", func() { sinkBytes = BearerToken(h) })
	assertNoAllocs(t, "APIKey", func() { sinkBytes = APIKey(h, apiKeyHeader) })
	assertNoAllocs(t, "LooksLikeJWT", func() { sinkBool = LooksLikeJWT(sinkBytes) })
}

func TestJWTCachedHitDoesNotAllocate(t *testing.T) {
	j, _ := newTestJWT(t, nil)
	k := keys(t)
	for _, tc := range []struct{ alg, kid string }{{"HS256", "hmac-1"}, {"RS256", "rsa-1"}, {"EdDSA", "ed-1"}} {
		var key any = map[string]any{"HS256": k.hmac, "RS256": k.rsa, "EdDSA": k.ed}[tc.alg]
		tok := []byte(sign(t, tc.alg, key, header(tc.alg, tc.kid), goodClaims("tenant_id", "t1", "roles", []string{"a"})))
		if _, err := j.Verify(tok); err != nil {
			t.Fatal(err)
		}
		assertNoAllocs(t, tc.alg+" cached Verify", func() { sinkID, sinkErr = j.Verify(tok) })
		if sinkErr != nil {
			t.Fatal(sinkErr)
		}
	}
	big := make([]byte, DefaultMaxTokenBytes+1)
	assertNoAllocs(t, "oversized token refusal", func() { sinkID, sinkErr = j.Verify(big) })
}

func TestAPIKeyHitDoesNotAllocate(t *testing.T) {
	srv := redistest.Start(t)
	clk := newClock(time.Now())
	a := newRedisKeys(t, srv.Addr, clk)
	raw, _, err := Issue(context.Background(), NewRedisStore(newRedisClient(t, srv.Addr)), "acme", "gold", time.Hour, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	key := []byte(raw)
	for range 3 { // fill the client-side cache and the parsed state
		if _, err := a.Verify(key); err != nil {
			t.Fatal(err)
		}
	}
	assertNoAllocs(t, "API key from the client-side cache", func() { sinkID, sinkErr = a.Verify(key) })

	path := t.TempDir() + "/keys.yaml"
	fileRaw, _, err := Issue(context.Background(), NewFileStore(path), "acme", "", 0, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewAPIKeys(APIKeyOptions{File: path})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fileKey := []byte(fileRaw)
	assertNoAllocs(t, "API key from the key file", func() { sinkID, sinkErr = f.Verify(fileKey) })
	if sinkErr != nil {
		t.Fatal(sinkErr)
	}
}

func TestIntrospectionHitDoesNotAllocate(t *testing.T) {
	srv := newIntrospectionServer(t)
	i := newTestIntrospector(t, srv.URL, newClock(testStart))
	for _, token := range []string{"good-u1", "inactive"} {
		tok := []byte(token)
		i.Verify(tok)
		assertNoAllocs(t, "introspection of "+token+" from the cache", func() { sinkID, sinkErr = i.Verify(tok) })
	}
}
