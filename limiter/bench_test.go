package limiter

import (
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgegate/gateway/internal/redistest"
)

// decisionSink keeps the compiler from discarding benchmarked calls.
var decisionSink Decision

// benchKeys are the client keys benchmarks cycle through: enough to
// spread over the shards, few enough to stay in cache like a busy
// gateway's hot clients.
var benchKeys = func() [][]byte {
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "203.0.%d.%d", i/256, i%256)
	}
	return keys
}()

// BenchmarkAllow measures Allow on tracked keys in local and hybrid
// modes, from one goroutine and from all cores. Hybrid answers from
// memory too; its sync loop runs every 100ms as configured by default.
func BenchmarkAllow(b *testing.B) {
	srv := redistest.Start(b)
	conn := openConn(b, srv.Addr)
	for _, mode := range []Mode{Local, Hybrid} {
		for _, alg := range []Algorithm{TokenBucket, SlidingWindow} {
			p := Policy{Name: "bench-" + mode.String() + "-" + alg.String(), Algorithm: alg, Mode: mode,
				Limit: 1 << 30, Window: time.Hour}
			o := Options{}
			if mode == Hybrid {
				o.Redis = conn
			}
			l := newLimiter(b, p, o)
			for _, k := range benchKeys {
				l.Allow(k)
			}
			name := mode.String() + "/" + alg.String()
			b.Run(name+"/single", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					decisionSink = l.Allow(benchKeys[i&1023])
					i++
				}
			})
			b.Run(name+"/parallel", func(b *testing.B) {
				b.ReportAllocs()
				var goroutines atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					var d Decision
					// Each goroutine starts at its own place in the
					// keys: cores serve different clients, not the same
					// client in lockstep.
					i := int(goroutines.Add(1)) * 509
					for pb.Next() {
						d = l.Allow(benchKeys[i&1023])
						i += 7
					}
					decisionSink = d
				})
			})
		}
	}
}

// BenchmarkAllowNewKeys measures Allow on keys never seen, in a full
// table: each call evicts a key not used recently.
func BenchmarkAllowNewKeys(b *testing.B) {
	for _, alg := range []Algorithm{TokenBucket, SlidingWindow} {
		b.Run(alg.String(), func(b *testing.B) {
			l := newLimiter(b, Policy{Algorithm: alg, Limit: 100, Window: time.Minute}, Options{MaxKeys: 100_000})
			key := make([]byte, 0, 32)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				key = strconv.AppendInt(append(key[:0], "10."...), int64(i), 10)
				decisionSink = l.Allow(key)
				i++
			}
		})
	}
}

// BenchmarkMemoryPerKey fills a limiter with one million keys and reports
// the heap it holds per key (bytes/key), then measures Allow over them.
func BenchmarkMemoryPerKey(b *testing.B) {
	const keys = 1_000_000
	srv := redistest.Start(b)
	conn := openConn(b, srv.Addr)
	for _, c := range []struct {
		mode Mode
		alg  Algorithm
	}{{Local, TokenBucket}, {Local, SlidingWindow}, {Hybrid, TokenBucket}} {
		b.Run(c.mode.String()+"/"+c.alg.String(), func(b *testing.B) {
			p := Policy{Name: "mem", Algorithm: c.alg, Mode: c.mode, Limit: 100, Window: time.Hour, SyncInterval: time.Hour}
			o := Options{MaxKeys: keys}
			if c.mode == Hybrid {
				o.Redis = conn
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			l := newLimiter(b, p, o)
			key := make([]byte, 0, 16)
			ipKey := func(i int) []byte {
				key = strconv.AppendInt(append(strconv.AppendInt(append(key[:0], "10."...), int64(i>>16), 10), '.'), int64(i&0xffff), 10)
				return key
			}
			for i := range keys {
				l.Allow(ipKey(i))
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			if n := l.Stats().Keys; n < keys*99/100 {
				b.Fatalf("%d keys held, want about %d", n, keys)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				decisionSink = l.Allow(ipKey(i % keys))
				i += 7919
			}
			// After the loop: b.Loop resets reported metrics when it starts.
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/keys, "bytes/key")
		})
	}
}
