package jwtcache

import (
	"context"
	"testing"
	"time"

	"github.com/edgegate/gateway/internal/redistest"
)

// Package-level sinks keep the compiler from optimising calls away.
var (
	sinkID    *Identity
	sinkErr   *Error
	sinkBytes []byte
	sinkBool  bool
)

func BenchmarkJWTCachedHit(b *testing.B) {
	j, _ := newTestJWT(b, nil)
	tok := []byte(sign(b, "RS256", keys(b).rsa, header("RS256", "rsa-1"), goodClaims("tenant_id", "t1", "roles", []string{"a", "b"})))
	if _, err := j.Verify(tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sinkID, sinkErr = j.Verify(tok)
	}
}

// BenchmarkJWTCachedHitParallel: many tokens, all cores, to show the
// sharded locks do not serialise hits.
func BenchmarkJWTCachedHitParallel(b *testing.B) {
	j, _ := newTestJWT(b, nil)
	k := keys(b)
	tokens := make([][]byte, 256)
	for i := range tokens {
		tokens[i] = []byte(sign(b, "HS256", k.hmac, header("HS256", "hmac-1"), goodClaims("n", i)))
		if _, err := j.Verify(tokens[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := j.Verify(tokens[i%len(tokens)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkJWTMiss measures a full verification, as for a token seen for
// the first time: parsing, claim checks, the signature and the identity.
func BenchmarkJWTMiss(b *testing.B) {
	k := keys(b)
	j, _ := newTestJWT(b, func(o *JWTOptions) { o.Algorithms = append(o.Algorithms, "ES384") })
	for _, tc := range []struct {
		alg, kid string
		key      any
	}{
		{"HS256", "hmac-1", k.hmac},
		{"RS256", "rsa-1", k.rsa},
		{"ES256", "es-1", k.p256},
		{"EdDSA", "ed-1", k.ed},
	} {
		b.Run(tc.alg, func(b *testing.B) {
			tok := []byte(sign(b, tc.alg, tc.key, header(tc.alg, tc.kid), goodClaims("tenant_id", "t1", "roles", []string{"a", "b"})))
			now := testStart.UnixNano()
			set := j.keys.Load()
			b.ReportAllocs()
			for b.Loop() {
				if _, _, _, err := j.verify(tok, now, set); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkJWTRefusal(b *testing.B) {
	j, _ := newTestJWT(b, nil)
	forged := []byte(sign(b, "HS256", []byte("guess"), header("HS256", "hmac-1"), goodClaims()))
	b.ReportAllocs()
	for b.Loop() {
		sinkID, sinkErr = j.Verify(forged)
	}
}

func BenchmarkAPIKeyHit(b *testing.B) {
	srv := redistest.Start(b)
	clk := newClock(time.Now())
	a := newRedisKeys(b, srv.Addr, clk)
	raw, _, err := Issue(context.Background(), NewRedisStore(newRedisClient(b, srv.Addr)), "acme", "gold", 0, clk.Now())
	if err != nil {
		b.Fatal(err)
	}
	key := []byte(raw)
	for range 3 {
		a.Verify(key)
	}
	b.ReportAllocs()
	for b.Loop() {
		sinkID, sinkErr = a.Verify(key)
	}
	if sinkErr != nil {
		b.Fatal(sinkErr)
	}
}

func BenchmarkAPIKeyFileHit(b *testing.B) {
	path := b.TempDir() + "/keys.yaml"
	raw, _, err := Issue(context.Background(), NewFileStore(path), "acme", "gold", 0, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	a, err := NewAPIKeys(APIKeyOptions{File: path})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	key := []byte(raw)
	b.ReportAllocs()
	for b.Loop() {
		sinkID, sinkErr = a.Verify(key)
	}
}

func BenchmarkIntrospectionHit(b *testing.B) {
	srv := newIntrospectionServer(b)
	i := newTestIntrospector(b, srv.URL, newClock(testStart))
	tok := []byte("good-u1")
	if _, err := i.Verify(tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sinkID, sinkErr = i.Verify(tok)
	}
}

func BenchmarkBearerToken(b *testing.B) {
	h := requestHeader("Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln")
	b.ReportAllocs()
	for b.Loop() {
		sinkBytes = BearerToken(h)
	}
}
