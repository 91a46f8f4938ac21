package pool

import (
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// benchBody is what the in-memory backend answers: a small JSON body, the
// common case for an API gateway.
var benchBody = []byte(`{"id":42,"name":"Ada","email":"ada@example.com"}`)

func benchHandler(ctx *fasthttp.RequestCtx) { ctx.SetBody(benchBody) }

// newBenchService returns a service of one or more instances, all served by
// one in-memory backend, so that the benchmark measures the pool and
// fasthttp rather than the kernel's loopback.
func newBenchService(tb testing.TB, balancer string, instances int) *Service {
	tb.Helper()
	_, dial := startMemBackend(tb, benchHandler)
	addrs := make([]string, instances)
	for i := range addrs {
		addrs[i] = "10.0.0." + strconv.Itoa(i+1) + ":80"
	}
	return newTestService(tb, Options{Instances: addrs, Balancer: balancer, Dial: dial})
}

// BenchmarkDo measures a whole exchange through Service.Do: pick, counters,
// write, read and error mapping. The direct sub-benchmark calls
// HostClient.DoDeadline on an identically configured client with no pool
// around it: the difference is the pool's cost.
func BenchmarkDo(b *testing.B) {
	cases := []struct {
		name      string
		balancer  string
		instances int
	}{
		{"single", BalancerLeastConn, 1},
		{"least_conn/instances=3", BalancerLeastConn, 3},
		{"round_robin/instances=3", BalancerRoundRobin, 3},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := newBenchService(b, c.balancer, c.instances)
			benchDo(b, func(req *fasthttp.Request, resp *fasthttp.Response) error {
				_, err := s.Do(req, resp, time.Now().Add(time.Second))
				return err
			})
		})
	}
	b.Run("direct", func(b *testing.B) {
		s := newBenchService(b, BalancerLeastConn, 1)
		hc := s.instances[0].client
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
