package pool

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// benchBody is what the in-memory backend answers: a small JSON body, the
// common case for an API gateway.
var benchBody = []byte(`{"id":42,"name":"Ada","email":"ada@example.com"}`)

// benchClientIP is the client address the benchmarks hash on.
var benchClientIP = net.ParseIP("192.0.2.1")

func benchHandler(ctx *fasthttp.RequestCtx) { ctx.SetBody(benchBody) }

// newBenchService returns a service configured by o with n instances, all
// served by one in-memory backend, so that the benchmark measures the pool
// and fasthttp rather than the kernel's loopback.
func newBenchService(tb testing.TB, o Options, n int) *Service {
	tb.Helper()
	_, dial := startMemBackend(tb, benchHandler)
	o.Instances = make([]string, n)
	for i := range o.Instances {
		o.Instances[i] = "10.0.0." + strconv.Itoa(i+1) + ":80"
	}
	o.Dial = dial
	return newTestService(tb, o)
}

// BenchmarkDo measures a whole exchange through Service.Do: pick, counters,
// write, read and error mapping. The direct sub-benchmark calls
// HostClient.DoDeadline on an identically configured client with no pool
// around it: the difference is the pool's cost.
func BenchmarkDo(b *testing.B) {
	cases := []struct {
		name      string
		o         Options
		instances int
	}{
		{"single", Options{}, 1},
		{"least_conn/instances=3", Options{}, 3},
		{"round_robin/instances=3", Options{Balancer: BalancerRoundRobin}, 3},
		{"consistent_hash/instances=3", Options{Balancer: BalancerConsistentHash, HashOn: "ip"}, 3},
		{"least_conn+breaker+retries/instances=3", Options{Retries: 1, CircuitBreaker: &CircuitBreaker{}}, 3},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := newBenchService(b, c.o, c.instances)
			benchDo(b, func(req *fasthttp.Request, resp *fasthttp.Response) error {
				_, err := s.Do(req, resp, time.Now().Add(time.Second), s.HashKey(req, benchClientIP))
				return err
			})
		})
	}
	b.Run("direct", func(b *testing.B) {
		s := newBenchService(b, Options{}, 1)
		hc := s.Instances()[0].client
		benchDo(b, func(req *fasthttp.Request, resp *fasthttp.Response) error {
			return hc.DoDeadline(req, resp, time.Now().Add(time.Second))
		})
	})
}

// benchDo runs do from all CPUs, each goroutine with its own request and
// response, as the gateway's handlers have.
func benchDo(b *testing.B, do func(*fasthttp.Request, *fasthttp.Response) error) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := fasthttp.AcquireRequest()
		resp := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("/users/42")
		req.Header.SetHost("users.internal")
		for pb.Next() {
			if err := do(req, resp); err != nil {
				b.Error(err)
				return
			}
			if len(resp.Body()) != len(benchBody) {
				b.Errorf("body %q", resp.Body())
				return
			}
		}
	})
}
