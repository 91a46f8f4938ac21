package loadtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/edgegate/gateway/internal/redistest"
)

// TestRedisOutage kills redis-server in the middle of a run and restarts
// it, empty, on the same port. Two deployments share it:
//
//   - three fail_open instances under a sliding-window policy in redis
//     mode, loaded at five times the limit: every request is answered
//     200 or 429, none hangs and none fails; during the outage each
//     instance limits locally (so 429s continue, and the instances
//     together admit at most instances x limit per window); once Redis is
//     back the shared limit is exact again.
//   - one fail_closed instance under a limit the load never reaches: 200
//     before, 503 during the outage, 200 again after it.
//
// recoverWithin is how long after the restart the instances may still
// answer from their fallback (the limiter probes Redis every 250ms; the
// client redials in the background); everything sent later is judged as
// in normal operation.
func TestRedisOutage(t *testing.T) {
	const instances = 3
	const recoverWithin = time.Second
	window := time.Second
	limit := int(scaled(100))
	before, outage, after := pick(3*time.Second, 20*time.Second), pick(3*time.Second, 20*time.Second),
		pick(4*time.Second, 20*time.Second)
	runFor := before + outage + after

	srv := redistest.Start(t)
	be := startBackend(t)
	openGws := startInstances(t, instances, limitedConfig(srv.Addr, "fail_open", []string{be.Addr}, "open", fmt.Sprintf(`
		algorithm: sliding_window
		limit: %d
		window: %s
		mode: redis`, limit, window)))
	closedTarget := startGateway(t, limitedConfig(srv.Addr, "fail_closed", []string{be.Addr}, "closed", `
		algorithm: sliding_window
		limit: 1000000
		window: 1s
		mode: redis`)).Addr

	ctx, cancel := context.WithTimeout(t.Context(), runFor+30*time.Second)
	defer cancel()
	openRun := load{
		Targets: addrs(openGws), Rate: 5 * float64(limit) / window.Seconds(),
		Conns: 16, Timeout: 2 * time.Second, Build: oneClient("tenant-o"),
	}.forDuration(runFor).start(ctx)
	closedRun := load{
		Targets: []string{closedTarget}, Rate: scaled(50),
		Conns: 8, Timeout: 2 * time.Second, Build: oneClient("tenant-c"),
	}.forDuration(runFor).start(ctx)

	// The two runs started together; the outage is timed on the first.
	sleepUntil(ctx, openRun.Start.Add(before))
	killingAt := time.Since(openRun.Start)
	srv.Stop()
	killedAt := time.Since(openRun.Start)
	sleepUntil(ctx, openRun.Start.Add(before+outage))
	srv.Restart()
	restartedAt := time.Since(openRun.Start)
	settled := restartedAt + recoverWithin
	sleepUntil(ctx, openRun.Start.Add(settled))
	fallbackSettled := degraded(t, openGws, "open")
	openOuts, closedOuts := openRun.Wait(), closedRun.Wait()
	fallbackAfter := degraded(t, openGws, "open") - fallbackSettled
	shift := closedRun.Start.Sub(openRun.Start) // closed offsets + shift = open offsets

	// fail_open.
	tl := count(openOuts)
	adm, _, _ := admitted(openRun, be.received())
	during := sentWithin(adm, killedAt, restartedAt)
	duringTl := count(sentWithin(openOuts, killedAt, restartedAt))
	// Each instance's fallback counts fixed windows of its own (the local
	// two-counter window admits under the limit in each), and an outage of
	// d overlaps at most ceil(d/W)+1 of them.
	localCap := instances * limit * (int((restartedAt-killedAt+window-1)/window) + 1)
	afterAdm := sentWithin(adm, settled, runFor)
	worstAfter := maxCertainlyWithin(afterAdm, window)
	afterWindows := perWindow(afterAdm, window)
	v := &verdict{name: "redis-outage-open"}
	v.add("limit", fmt.Sprintf("%d/%s", limit, window)).add("outage", fmt.Sprintf("%.1fs-%.1fs", killedAt.Seconds(), restartedAt.Seconds())).
		add("status", "["+tl.String()+"]").add("outage_status", "["+duringTl.String()+"]").
		add("outage_admitted", fmt.Sprintf("%d/%d", len(during), localCap)).
		add("after_max_in_window", worstAfter).add("after_windows", fmt.Sprint(afterWindows)).
		add("degraded_after", fallbackAfter)
	v.timing(openOuts)
	t.Log(v)
	if bad := tl.only(200, 429); bad != 0 {
		t.Errorf("fail_open: %d requests answered neither 200 nor 429: %s (first connection error: %s)", bad, tl, connErrText())
	}
	if duringTl[429] == 0 {
		t.Errorf("fail_open: no 429 during the outage: the limit stopped applying (%s)", duringTl)
	}
	if len(during) > localCap {
		t.Errorf("fail_open: %d admitted during the outage, more than %d instances each holding the limit would", len(during), instances)
	}
	if worstAfter > limit+fallbackAfter {
		t.Errorf("fail_open: %d admissions within one window after Redis came back, limit %d (+%d decided locally)",
			worstAfter, limit, fallbackAfter)
	}
	switch {
	case starved(openOuts):
		t.Logf("the generator ran late (lag p99 over %v): windows after the restart not judged", starvedLag)
	case len(afterWindows) == 0:
		t.Errorf("fail_open: no complete window admitted after Redis came back")
	}
	for k, n := range afterWindows {
		if n < limit*9/10 && !starved(openOuts) {
			t.Errorf("fail_open: window %d after Redis came back admitted %d, want about %d", k, n, limit)
		}
	}

	// fail_closed: a request sent well inside the outage is refused, one
	// sent once Redis is back passes; around the edges either may happen.
	ctl := count(closedOuts)
	var wrongBefore, wrongDuring, wrongAfter int
	for _, o := range closedOuts {
		at := o.Sent + shift
		switch {
		case o.Answered+shift < killingAt && o.Status != 200:
			wrongBefore++
		case at >= killedAt+200*time.Millisecond && o.Answered+shift < restartedAt && o.Status != 503:
			wrongDuring++
		case at >= settled && o.Status != 200:
			wrongAfter++
		}
	}
	vc := &verdict{name: "redis-outage-closed"}
	vc.add("status", "["+ctl.String()+"]").add("not_200_before", wrongBefore).add("not_503_during", wrongDuring).
		add("not_200_after", wrongAfter)
	vc.timing(closedOuts)
	t.Log(vc)
	if bad := len(closedOuts) - ctl[200] - ctl[503]; bad != 0 {
		t.Errorf("fail_closed: %d requests answered neither 200 nor 503: %s", bad, ctl)
	}
	if wrongBefore+wrongDuring+wrongAfter != 0 || ctl[503] == 0 {
		t.Errorf("fail_closed: want 200 before the outage, 503 during it, 200 after it")
	}
}

// sleepUntil sleeps until t or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) {
	select {
	case <-time.After(time.Until(t)):
	case <-ctx.Done():
	}
}
