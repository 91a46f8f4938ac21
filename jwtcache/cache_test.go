package jwtcache

import (
	"fmt"
	"testing"
)

func TestCacheComparesWholeTokens(t *testing.T) {
	c := newTokenCache[string](10)
	a, b := []byte("token-a"), []byte("token-b")
	h := c.hash(a)
	c.put(h, a, "identity-a", 100, 0, 0)
	// b under a's hash, as a collision would put it: never a's value.
	if v, ok := c.get(h, b, 0, 0); ok {
		t.Fatalf("colliding token got %q", v)
	}
	if v, ok := c.get(h, a, 0, 0); !ok || v != "identity-a" {
		t.Fatalf("get(a) = %q, %v", v, ok)
	}
	c.put(h, b, "identity-b", 100, 0, 0)
	if _, ok := c.get(h, a, 0, 0); ok {
		t.Fatal("replaced token still hits")
	}
	if v, ok := c.get(h, b, 0, 0); !ok || v != "identity-b" {
		t.Fatalf("get(b) = %q, %v", v, ok)
	}
}

func TestCacheExpiryAndGeneration(t *testing.T) {
	c := newTokenCache[int](10)
	tok := []byte("t")
	h := c.hash(tok)
	c.put(h, tok, 1, 100, 7, 0)
	for _, tc := range []struct {
		now  int64
		gen  uint64
		want bool
	}{{99, 7, true}, {100, 7, false}, {50, 8, false}} {
		if _, ok := c.get(h, tok, tc.now, tc.gen); ok != tc.want {
			t.Errorf("get at %d, generation %d: %v, want %v", tc.now, tc.gen, ok, tc.want)
		}
	}
}

func TestCacheBoundAndClock(t *testing.T) {
	const entries = 256
	c := newTokenCache[int](entries)
	hot := []byte("hot")
	hh := c.hash(hot)
	c.put(hh, hot, -1, 1<<62, 0, 0)
	for i := range 20 * entries {
		tok := []byte(fmt.Sprint("cold-", i))
		c.put(c.hash(tok), tok, i, 1<<62, 0, 0)
		// The hot entry is used between every two inserts.
		if _, ok := c.get(hh, hot, 0, 0); !ok {
			t.Fatalf("hot entry evicted after %d inserts", i+1)
		}
	}
	if n := c.len(); n > entries {
		t.Fatalf("%d entries, bound %d", n, entries)
	}
}

func TestCacheEvictsExpiredBeforeUsed(t *testing.T) {
	c := newTokenCache[int](1) // one shard of one entry
	a := []byte("a")
	c.put(c.hash(a), a, 1, 10, 0, 0)
	c.get(c.hash(a), a, 0, 0) // used, but about to expire
	b := []byte("b")
	c.put(c.hash(b), b, 2, 100, 0, 20)
	if _, ok := c.get(c.hash(b), b, 20, 0); !ok {
		t.Fatal("new entry not stored")
	}
	if c.len() != 1 {
		t.Fatalf("%d entries, bound 1", c.len())
	}
}

// TestJWTForgedFloodKeepsGoodEntries: distinct forged tokens are refused
// without touching the cache.
func TestJWTForgedFloodKeepsGoodEntries(t *testing.T) {
	j, _ := newTestJWT(t, func(o *JWTOptions) { o.CacheEntries = 64 })
	k := keys(t)
	good := []byte(sign(t, "HS256", k.hmac, header("HS256", "hmac-1"), goodClaims()))
	id, err := j.Verify(good)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		forged := sign(t, "HS256", []byte("guess"), header("HS256", "hmac-1"), goodClaims("n", i))
		if _, err := j.Verify([]byte(forged)); err != errSignature {
			t.Fatalf("forged token: %v", err)
		}
	}
	if n := j.cache.len(); n != 1 {
		t.Fatalf("%d cache entries after a flood of forged tokens, want 1", n)
	}
	if again, _ := j.Verify(good); again != id {
		t.Fatal("good entry lost to the flood")
	}
}
