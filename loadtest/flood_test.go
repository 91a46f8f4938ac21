package loadtest

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestDistinctKeyFlood sends requests that each carry a client key never
// seen before, against a policy that counts by that key. Over loopback
// every request comes from 127.0.0.1 and the gateway takes the client IP
// from the connection, never from X-Forwarded-For, so the flood varies a
// header:X-Client key instead: to the limiter, the same one key per
// request that a flood of spoofed addresses would be.
//
// The limiter keeps each key in memory (about 70 bytes by its doc) up to
// a bound of a million per table, so the process's resident set must stay
// under baseline + 32 MiB + 200 bytes per distinct key, sampled every
// 250ms from /proc/PID/status. One client that keeps coming back through
// the flood (every 100th request) must stay limited (its bucket of ten an
// hour admits ten, and one more per six minutes), and every request
// must be answered. A 504 is an answer: the backends live in the test
// process, and on a busy machine one may miss the gateway's deadline.
func TestDistinctKeyFlood(t *testing.T) {
	total := int(float64(pick(100_000, 1_000_000)) * raceScale)
	const steadyEvery, limit, window = 100, 10, time.Hour

	be := startBackend(t)
	g := startGateway(t, fmt.Sprintf(`
server: { read_timeout: 5s, write_timeout: 5s }
logging: { access_log: "off" }
rate_limits:
  per_client:
    key: header:X-Client
    algorithm: token_bucket
    limit: %d
    window: %s
    mode: local
services:
  api:
    instances: [%q]
    timeout: 2s
routes:
  - name: api
    match: { path: "/api/{rest...}", methods: [GET] }
    service: api
    rate_limit: [per_client]
`, limit, window, be.Addr))
	baseline, err := g.rssBytes()
	if err != nil {
		t.Fatal(err)
	}
	distinct := total - total/steadyEvery
	bound := baseline + 32<<20 + int64(distinct)*200

	plan := load{
		Targets: []string{g.Addr}, Rate: scaled(2500), Count: total, Conns: 32, Timeout: 5 * time.Second,
		Build: func(i int, req *fasthttp.Request) {
			req.SetRequestURI("/api/flood")
			if i%steadyEvery == 0 {
				req.Header.Set("X-Client", "steady")
				return
			}
			req.Header.Set("X-Client", "flood-"+strconv.Itoa(i))
		},
	}
	runFor := time.Duration(float64(total) / plan.Rate * float64(time.Second))
	ctx, cancel := context.WithTimeout(t.Context(), 2*runFor+30*time.Second)
	defer cancel()
	run := plan.start(ctx)

	peak := baseline
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for sampling := true; sampling; {
		select {
		case <-tick.C:
			rss, err := g.rssBytes()
			if err != nil {
				t.Fatalf("read RSS: %v", err)
			}
			peak = max(peak, rss)
		case <-run.done:
			sampling = false
		}
	}
	outs := run.Wait()
	end, _ := g.rssBytes()
	peak = max(peak, end)

	tl := count(outs)
	steady := tally{}
	for i := 0; i < len(outs); i += steadyEvery {
		steady[outs[i].Status]++
	}
	keys := g.metric(t, "gateway_ratelimit_keys", `policy="per_client"`)
	v := &verdict{name: "flood"}
	v.add("requests", total).add("rate", run.rate()).add("status", "["+tl.String()+"]").
		add("steady", "["+steady.String()+"]").add("keys_held", int(keys)).
		add("rss_MiB", fmt.Sprintf("%.1f->%.1f(end %.1f)", mib(baseline), mib(peak), mib(end))).
		add("bound_MiB", fmt.Sprintf("%.1f", mib(bound)))
	v.timing(outs)
	t.Log(v)

	if n := tl[statusHung] + tl[statusConnErr] + tl[statusNotSent]; n != 0 {
		t.Errorf("%d requests without an answer: %s (first connection error: %s)", n, tl, connErrText())
	}
	// The bucket holds limit and refills limit per window: a long flood
	// earns the steady client a few more.
	allowed := limit + int(int64(limit)*int64(outs[len(outs)-1].Answered)/int64(window))
	if steady[200] > allowed || steady[429] == 0 {
		t.Errorf("the steady client was admitted %d times through the flood, at most %d allowed: %s", steady[200], allowed, steady)
	}
	if peak > bound {
		t.Errorf("RSS peaked at %.1f MiB, over the bound of %.1f MiB (baseline %.1f + 32 + 200 B x %d keys)",
			mib(peak), mib(bound), mib(baseline), distinct)
	}
}
