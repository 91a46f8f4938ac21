package respcache

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

var keySink []byte

// BenchmarkHit is the hot path of a cached route: Get and WriteTo.
func BenchmarkHit(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10} {
		b.Run("body="+strconv.Itoa(size>>10)+"KiB", func(b *testing.B) {
			c, _ := newTestCache(Options{})
			k := key("/items")
			c.Set(k, backend(200, strings.Repeat("x", size), "ETag", `"v1"`, "Vary", "Accept-Encoding"), testRule(time.Hour))
			resp := &fasthttp.Response{}
			b.ReportAllocs()
			for b.Loop() {
				e, _ := c.Get(k)
				e.WriteTo(resp)
			}
		})
	}
}

// BenchmarkHitParallel reads many keys from every core at once, the case
// the shards are for.
func BenchmarkHitParallel(b *testing.B) {
	for _, shards := range []int{1, DefaultShards} {
		b.Run("shards="+strconv.Itoa(shards), func(b *testing.B) {
			c, _ := newTestCache(Options{Shards: shards})
			keys := make([][]byte, 1024)
			for i := range keys {
				keys[i] = key("/items/" + strconv.Itoa(i))
				c.Set(keys[i], backend(200, strings.Repeat("x", 1024)), testRule(time.Hour))
			}
			var next atomic.Uint32
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				resp := &fasthttp.Response{}
				i := int(next.Add(1)) * 7919
				for pb.Next() {
					i++
					e, _ := c.Get(keys[i%len(keys)])
					e.WriteTo(resp)
				}
			})
		})
	}
}

func BenchmarkDoHit(b *testing.B) {
	c, _ := newTestCache(Options{})
	k := key("/items")
	r := testRule(time.Hour)
	c.Set(k, backend(200, strings.Repeat("x", 1024)), r)
	resp := &fasthttp.Response{}
	b.ReportAllocs()
	for b.Loop() {
		if o, _ := c.Do(k, r, resp, mustNotFill); o != Hit {
			b.Fatal(o)
		}
	}
}

// BenchmarkDoMiss is a local miss that fills and stores, on a new key each
// round (older entries are evicted as the cache fills): the price of the
// copy that caching adds to an uncached request.
func BenchmarkDoMiss(b *testing.B) {
	c, _ := newTestCache(Options{MaxBytes: 4 << 20})
	r := testRule(time.Hour)
	answer := backend(200, strings.Repeat("x", 1024), "ETag", `"v1"`)
	fill := func(resp *fasthttp.Response) error { answer.CopyTo(resp); return nil }
	resp := &fasthttp.Response{}
	var k, path []byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		path = strconv.AppendInt(append(path[:0], "/items/"...), int64(i), 10)
		k = AppendKey(k[:0], "r", path, nil)
		if o, err := c.Do(k, r, resp, fill); o != Miss || err != nil {
			b.Fatal(o, err)
		}
	}
}

func BenchmarkAppendKey(b *testing.B) {
	dst := make([]byte, 0, 256)
	path, query, user := []byte("/api/v2/users/42"), []byte("fields=name"), []byte("alice")
	b.Run("parts", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dst = AppendKey(dst[:0], "users", path, query, user)
		}
		keySink = dst
	})
	b.Run("request", func(b *testing.B) {
		r, err := NewRule("users", time.Minute, []string{"user", "header:X-Tenant"})
		if err != nil {
			b.Fatal(err)
		}
		req := &fasthttp.Request{}
		req.SetRequestURI("/api/v2/users/42?fields=name")
		req.Header.SetHost("api.example.com")
		req.Header.Set("X-Tenant", "t1")
		b.ReportAllocs()
		for b.Loop() {
			dst = r.AppendKey(dst[:0], req, user)
		}
		keySink = dst
	})
}
