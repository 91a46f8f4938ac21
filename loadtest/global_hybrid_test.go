package loadtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/edgegate/gateway/internal/redistest"
)

// TestGlobalLimitHybrid: the same three processes, the policy in hybrid
// mode with a token bucket. limiter/doc.go bounds hybrid's excess over
// the strict algorithm by 2 x instances x q, q = ceil(limit x
// sync_interval / window): over any interval of length T, admissions
// stay within limit + rate x T (what a strict bucket that starts full
// admits) plus that bound. Hybrid must not starve the client either: over
// the run it admits at least most of what the strict bucket would.
func TestGlobalLimitHybrid(t *testing.T) {
	const instances = 3
	window, syncEvery := 2*time.Second, 100*time.Millisecond
	limit := int(scaled(200))
	runFor := pick(7*time.Second, 2*time.Minute)
	q := (limit*int(syncEvery) + int(window) - 1) / int(window)
	excess := 2 * instances * q
	strict := func(span time.Duration) int { return limit + int(int64(limit)*int64(span)/int64(window)) }

	srv := redistest.Start(t)
	be := startBackend(t)
	yaml := limitedConfig(srv.Addr, "fail_open", []string{be.Addr}, "hybrid", fmt.Sprintf(`
		algorithm: token_bucket
		limit: %d
		window: %s
		mode: hybrid
		sync_interval: %s`, limit, window, syncEvery))
	gws := startInstances(t, instances, yaml)

	ctx, cancel := context.WithTimeout(t.Context(), runFor+30*time.Second)
	defer cancel()
	run := load{
		Targets: addrs(gws), Rate: 3 * float64(limit) / window.Seconds(),
		Conns: 16, Timeout: 2 * time.Second, Build: oneClient("tenant-h"),
	}.forDuration(runFor).start(ctx)
	outs := run.Wait()

	tl := count(outs)
	adm, unseen, strays := admitted(run, be.received())
	v := &verdict{name: "global-hybrid"}
	v.add("limit", fmt.Sprintf("%d/%s", limit, window)).add("q", q).add("bound", fmt.Sprintf("+%d", excess)).
		add("sent", len(outs)).add("status", "["+tl.String()+"]")
	spans := []time.Duration{window / 4, window / 2, window, runFor + time.Second}
	var worst []string
	for _, span := range spans {
		got, allowed := maxCertainlyWithin(adm, span), strict(span)+excess
		worst = append(worst, fmt.Sprintf("%s:%d/%d", span, got, allowed))
		if got > allowed {
			t.Errorf("%d admissions certainly within %s; a strict bucket admits %d, hybrid at most %d more",
				got, span, strict(span), excess)
		}
	}
	last := outs[len(outs)-1].Sent
	floor := strict(last) * 85 / 100
	v.add("max_in_span/allowed", fmt.Sprint(worst)).add("admitted", len(adm)).add("strict_run", strict(last)).
		add("degraded", degraded(t, gws, "hybrid"))
	v.timing(outs)
	t.Log(v)

	checkAdmissions(t, tl, unseen, strays)
	if starved(outs) {
		t.Logf("the generator ran late (lag p99 over %v): the floor not judged", starvedLag)
		return
	}
	if len(adm) < floor {
		t.Errorf("admitted %d over %s, a strict bucket admits %d: hybrid starves the client (want at least %d)",
			len(adm), last, strict(last), floor)
	}
}
