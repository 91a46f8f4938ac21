package limiter

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/gateway/internal/redistest"
)

// redisBenchClients is the concurrency of both sides of the comparison:
// redis-benchmark's connections, and goroutines calling Allow (which
// rueidis pipelines over its own few connections).
const redisBenchClients = 50

// BenchmarkRedisAllow measures redis-mode Allow from 50 goroutines and,
// against the same server, redis-benchmark running the same script with
// EVALSHA over the same number of keys from 50 connections: one request in
// flight per connection (-P 1, the same concurrency as ours), and 16 (-P
// 16, a pipelined ceiling no request path reaches). It reports the three
// rates and our ratio to each.
//
// Each run of BenchmarkRedisAllow (each -count) starts its own server and
// runs redis-benchmark once per script and depth, so every count is a
// side-by-side pair and medians over counts compare like with like.
func BenchmarkRedisAllow(b *testing.B) {
	srv := redistest.Start(b)
	conn := openConn(b, srv.Addr)
	rb := redisBenchmarks{}
	for _, alg := range []Algorithm{TokenBucket, SlidingWindow} {
		b.Run(alg.String(), func(b *testing.B) {
			// Every request admitted: the script's full path, ZADD
			// included, and no refusal cache in the way.
			p := Policy{Name: "rb-" + alg.String(), Algorithm: alg, Limit: 1 << 30, Window: time.Hour, Mode: Redis}
			if alg == SlidingWindow {
				p.Window = 10 * time.Second
				p.Limit = 1 << 20
			}
			l := newLimiter(b, p, Options{Redis: conn, Timeout: time.Second})
			keys := make([][]byte, 10_000)
			for i := range keys {
				keys[i] = fmt.Appendf(nil, "client-%012d", i)
			}
			b.SetParallelism(redisBenchClients / 2)
			b.ReportAllocs()
			start := time.Now()
			var refused sync.Map
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if d := l.Allow(keys[i%len(keys)]); !d.Allowed {
						refused.Store(i, d)
					}
					i += 13
				}
			})
			ours := float64(b.N) / time.Since(start).Seconds()
			b.StopTimer()
			refused.Range(func(k, v any) bool {
				b.Fatalf("request refused during the benchmark: %+v (redis errors %d)", v, l.RedisErrors())
				return false
			})
			p1 := rb.run(b, srv, l.remote, 1)
			p16 := rb.run(b, srv, l.remote, 16)
			b.ReportMetric(ours, "allow/s")
			b.ReportMetric(p1, "rb-P1/s")
			b.ReportMetric(p16, "rb-P16/s")
			b.ReportMetric(ours/p1, "ratio-P1")
			b.ReportMetric(ours/p16, "ratio-P16")
		})
	}
}

// redisBenchmarks holds redis-benchmark's figures per script and pipeline
// depth for one run of BenchmarkRedisAllow: its sub-benchmarks run several
// times while the framework sizes b.N, and redis-benchmark need run only
// once.
type redisBenchmarks map[string]float64

var rpsPattern = regexp.MustCompile(`([0-9.]+) requests per second`)

// run runs redis-benchmark against srv with EVALSHA of r's script over
// 10,000 keys of r's policy, pipeline requests in flight per connection,
// and returns requests per second.
func (runs redisBenchmarks) run(b *testing.B, srv *redistest.Server, r *remote, pipeline int) float64 {
	b.Helper()
	run := r.prefix + "P" + strconv.Itoa(pipeline)
	if rps, ok := runs[run]; ok {
		return rps
	}
	if _, err := srv.Do("SCRIPT", "LOAD", r.script.src); err != nil {
		b.Fatal(err)
	}
	port := srv.Addr[len("127.0.0.1:"):]
	args := []string{"-h", "127.0.0.1", "-p", port, "-q", "-n", "100000", "-c", strconv.Itoa(redisBenchClients),
		"-P", strconv.Itoa(pipeline), "-r", "10000", "EVALSHA", r.script.sha, "1", r.prefix + "client-__rand_int__}", r.limitArg, r.windowArg}
	if r.script == slidingLogScript {
		args = append(args, "member-__rand_int__", r.unitArg)
	}
	out, err := exec.Command("redis-benchmark", args...).CombinedOutput()
	if err != nil {
		b.Fatalf("redis-benchmark: %v\n%s", err, out)
	}
	m := rpsPattern.FindSubmatch(out)
	if m == nil {
		b.Fatalf("redis-benchmark printed no rate:\n%s", out)
	}
	rps, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		b.Fatal(err)
	}
	runs[run] = rps
	return rps
}
