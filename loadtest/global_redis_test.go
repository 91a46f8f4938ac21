package loadtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/gateway/internal/redistest"
)

// limitedConfig is a gateway that forwards /api/... to backends under one
// rate-limit policy named name, keyed by the X-Client header. policy is
// the policy's YAML body (algorithm, limit, window, mode...).
func limitedConfig(redisAddr, onError string, backends []string, name, policy string) string {
	return fmt.Sprintf(`
server: { read_timeout: 5s, write_timeout: 5s }
redis:
  addrs: [%q]
  on_error: %s
logging: { access_log: "off" }
rate_limits:
  %s:
    key: header:X-Client
%s
services:
  api:
    instances: [%s]
    timeout: 2s
routes:
  - name: api
    match: { path: "/api/{rest...}", methods: [GET, POST] }
    service: api
    rate_limit: [%s]
`, redisAddr, onError, name, indent(policy, "    "), quoteList(backends), name)
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = prefix + strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n")
}

func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// startInstances starts n gateways on the same configuration.
func startInstances(t *testing.T, n int, yaml string) []*gatewayProc {
	t.Helper()
	gws := make([]*gatewayProc, n)
	for i := range gws {
		gws[i] = startGateway(t, yaml)
	}
	return gws
}

// oneClient builds GETs of /api/items for one X-Client, the key every
// instance shares.
func oneClient(client string) func(int, *fasthttp.Request) {
	return func(_ int, req *fasthttp.Request) {
		req.SetRequestURI("/api/items")
		req.Header.Set("X-Client", client)
	}
}

// TestGlobalLimitRedis: three gateway processes share one redis-server
// and one sliding-window policy in redis mode, loaded at three times the
// limit. The sliding log is exact, so no interval of one window may hold
// more than the limit's admissions, with no tolerance (but for decisions
// the limiter had to take locally because Redis answered too late, which
// the gateway counts and the test reports); and a steady over-demand
// keeps each window full.
func TestGlobalLimitRedis(t *testing.T) {
	const instances = 3
	window := 2 * time.Second
	limit := int(scaled(200))
	runFor := pick(7*time.Second, 2*time.Minute)

	srv := redistest.Start(t)
	be := startBackend(t)
	yaml := limitedConfig(srv.Addr, "fail_open", []string{be.Addr}, "global", fmt.Sprintf(`
		algorithm: sliding_window
		limit: %d
		window: %s
		mode: redis`, limit, window))
	gws := startInstances(t, instances, yaml)

	ctx, cancel := context.WithTimeout(t.Context(), runFor+30*time.Second)
	defer cancel()
	plan := load{
		Targets: addrs(gws), Rate: 3 * float64(limit) / window.Seconds(),
		Conns: 16, Timeout: 2 * time.Second, Build: oneClient("tenant-a"),
	}.forDuration(runFor)
	run := plan.start(ctx)
	outs := run.Wait()

	tl := count(outs)
	adm, unseen, strays := admitted(run, be.received())
	fallback := degraded(t, gws, "global")
	worst := maxCertainlyWithin(adm, window)
	windows := perWindow(adm, window)
	v := &verdict{name: "global-redis"}
	v.add("limit", fmt.Sprintf("%d/%s", limit, window)).add("sent", len(outs)).add("status", "["+tl.String()+"]").
		add("max_in_window", worst).add("full_windows", fmt.Sprint(windows)).add("degraded", fallback)
	v.timing(outs)
	t.Log(v)

	checkAdmissions(t, tl, unseen, strays)
	// A decision Redis did not answer within the limiter's timeout was
	// taken from a local bucket (fail_open) and never logged in Redis: each
	// may add one admission. With none the count is exact.
	if worst > limit+fallback {
		t.Errorf("%d admissions certainly decided within one %s window, limit %d (+%d decided locally)",
			worst, window, limit, fallback)
	}
	if starved(outs) {
		t.Logf("the generator ran late (lag p99 over %v): full windows not judged", starvedLag)
		return
	}
	for k, n := range windows {
		if n < limit*9/10 {
			t.Errorf("window %d admitted %d under steady over-demand, want about %d", k, n, limit)
		}
	}
}
