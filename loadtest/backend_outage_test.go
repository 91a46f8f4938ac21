package loadtest

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestBackendOutage kills one of a service's two instances in the middle
// of a run of GETs and POSTs, then restarts it on the same port. The
// service retries once on the other instance and runs health checks.
// Every request must be answered (none hangs, no connection fails); every
// GET succeeds, retried on the live instance when its first attempt got no
// response byte; and no POST is delivered twice, so a 2xx POST reached a
// backend exactly once and a failed one at most once. Once restarted, the
// instance is back in rotation.
func TestBackendOutage(t *testing.T) {
	before, outage, after := pick(2*time.Second, 20*time.Second), pick(2*time.Second, 20*time.Second),
		pick(3*time.Second, 20*time.Second)
	runFor := before + outage + after

	a, b := startBackend(t), startBackend(t)
	g := startGateway(t, fmt.Sprintf(`
server: { read_timeout: 5s, write_timeout: 5s }
logging: { access_log: "off" }
services:
  api:
    instances: [%q, %q]
    balancer: round_robin
    timeout: 2s
    retries: 1
    health_check:
      path: /health
      interval: 250ms
      timeout: 200ms
      unhealthy_threshold: 2
      healthy_threshold: 2
routes:
  - name: api
    match: { path: "/api/{rest...}", methods: [GET, POST] }
    service: api
`, a.Addr, b.Addr))

	ctx, cancel := context.WithTimeout(t.Context(), runFor+30*time.Second)
	defer cancel()
	run := load{
		Targets: []string{g.Addr}, Rate: scaled(400), Conns: 32, Timeout: 3 * time.Second,
		Build: func(i int, req *fasthttp.Request) {
			if i%2 == 1 {
				req.Header.SetMethod(fasthttp.MethodPost)
				req.SetRequestURI("/api/orders")
				req.SetBodyString(`{"order":` + strconv.Itoa(i) + `}`)
				return
			}
			req.SetRequestURI("/api/orders/" + strconv.Itoa(i))
		},
	}.forDuration(runFor).start(ctx)
	sleepUntil(ctx, run.Start.Add(before))
	a.kill()
	killedAt := time.Since(run.Start)
	sleepUntil(ctx, run.Start.Add(before+outage))
	a.restart()
	restartedAt := time.Since(run.Start)
	outs := run.Wait()

	deliveries := map[int]int{}
	for _, h := range append(a.received(), b.received()...) {
		if h.Method == fasthttp.MethodPost {
			deliveries[h.ID]++
		}
	}
	back := 0
	for _, h := range a.received() {
		if h.At.After(run.Start.Add(restartedAt)) {
			back++
		}
	}
	gets, posts := tally{}, tally{}
	var twice, lost2xx int
	for id, o := range outs {
		if id%2 == 0 {
			gets[o.Status]++
			continue
		}
		posts[o.Status]++
		if deliveries[id] > 1 {
			twice++
		}
		if o.Status >= 200 && o.Status <= 299 && deliveries[id] != 1 {
			lost2xx++
		}
	}
	v := &verdict{name: "backend-outage"}
	v.add("outage", fmt.Sprintf("%.1fs-%.1fs", killedAt.Seconds(), restartedAt.Seconds())).
		add("get", "["+gets.String()+"]").add("post", "["+posts.String()+"]").
		add("post_twice", twice).add("post_2xx_not_delivered_once", lost2xx).
		add("restarted_instance_hits_after", back)
	v.timing(outs)
	t.Log(v)

	all := count(outs)
	if back == 0 {
		t.Errorf("the restarted instance received nothing after its restart: health checks never put it back")
	}
	if n := all[statusHung] + all[statusConnErr] + all[statusNotSent]; n != 0 {
		t.Errorf("%d requests without an answer: %s (first connection error: %s)", n, all, connErrText())
	}
	if ok := gets.class(200, 299); ok != len(outs)/2+len(outs)%2 {
		t.Errorf("GETs: %d of %d succeeded: %s", ok, len(outs)/2+len(outs)%2, gets)
	}
	if twice != 0 || lost2xx != 0 {
		t.Errorf("POSTs: %d delivered twice, %d answered 2xx without exactly one delivery", twice, lost2xx)
	}
}
