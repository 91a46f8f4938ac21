package pool

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// healthBackend serves "/health" with a status the test sets, and counts
// health checks apart from requests.
type healthBackend struct {
	*backend
	status atomic.Int64
	delay  atomic.Int64 // nanoseconds before a health answer
	checks atomic.Int64

	mu        sync.Mutex
	lastCheck struct{ method, ua, connection string }
}

func startHealthBackend(tb testing.TB) *healthBackend {
	hb := &healthBackend{}
	hb.status.Store(fasthttp.StatusOK)
	hb.backend = startBackend(tb, hb.handle)
	return hb
}

func (hb *healthBackend) handle(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) != "/health" {
		ok(ctx)
		return
	}
	hb.checks.Add(1)
	hb.mu.Lock()
	hb.lastCheck.method = string(ctx.Method())
	hb.lastCheck.ua = string(ctx.UserAgent())
	hb.lastCheck.connection = string(ctx.Request.Header.Peek("Connection"))
	hb.mu.Unlock()
	time.Sleep(time.Duration(hb.delay.Load()))
	ctx.SetStatusCode(int(hb.status.Load()))
}

// requests returns the requests the backend saw that were not checks.
func (hb *healthBackend) requests() int64 { return hb.hits.Load() - hb.checks.Load() }

// TestActiveCheckThresholds drives checks round by round: an instance
// leaves rotation at the UnhealthyThreshold-th consecutive failure, not
// before, and returns at the HealthyThreshold-th consecutive success.
func TestActiveCheckThresholds(t *testing.T) {
	a, b := startHealthBackend(t), startHealthBackend(t)
	s := newTestService(t, Options{
		Instances: []string{a.addr, b.addr},
		// An interval longer than the test: only checkRound checks.
		HealthCheck: &HealthCheck{Path: "/health", Interval: time.Hour, Timeout: 200 * time.Millisecond,
			UnhealthyThreshold: 3, HealthyThreshold: 2},
	})
	inB := findInstance(s, b.addr)
	both := []string{a.addr, b.addr}

	steps := []struct {
		status int
		want   []string
	}{
		{fasthttp.StatusServiceUnavailable, both},
		{fasthttp.StatusInternalServerError, both},
		{fasthttp.StatusOK, both}, // a success breaks the run of failures
		{fasthttp.StatusNotFound, both},
		{fasthttp.StatusServiceUnavailable, both},
		{fasthttp.StatusBadGateway, []string{a.addr}}, // third failure in a row
		{fasthttp.StatusOK, []string{a.addr}},
		{fasthttp.StatusServiceUnavailable, []string{a.addr}}, // breaks the run of successes
		{fasthttp.StatusOK, []string{a.addr}},
		{fasthttp.StatusFound, both}, // 3xx passes
	}
	for i, step := range steps {
		b.status.Store(int64(step.status))
		s.checkRound()
		if got := healthy(s); !slices.Equal(got, step.want) {
			t.Fatalf("round %d (status %d): in rotation %v, want %v", i+1, step.status, got, step.want)
		}
		if inB.Healthy() != slices.Contains(step.want, b.addr) {
			t.Fatalf("round %d: Healthy() = %v", i+1, inB.Healthy())
		}
	}
	if a.checks.Load() != int64(len(steps)) || b.checks.Load() != int64(len(steps)) {
		t.Errorf("checks seen: %d and %d, want %d each", a.checks.Load(), b.checks.Load(), len(steps))
	}
	b.mu.Lock()
	last := b.lastCheck
	b.mu.Unlock()
	if last.method != fasthttp.MethodGet || last.ua != checkUserAgent || last.connection != "close" {
		t.Errorf("check sent as %+v, want GET, User-Agent %q, Connection: close", last, checkUserAgent)
	}
	// Checks are not requests.
	if n := inB.Requests(); n != 0 {
		t.Errorf("instance counted %d requests, want 0: checks are not requests", n)
	}
}

// TestActiveCheckFailures covers the ways a check fails besides a status:
// a timeout and a refused connection.
func TestActiveCheckFailures(t *testing.T) {
	slow := startHealthBackend(t)
	slow.delay.Store(int64(300 * time.Millisecond))
	refused := refusedAddr(t)
	s := newTestService(t, Options{
		Instances:   []string{slow.addr, refused},
		HealthCheck: &HealthCheck{Path: "/health", Interval: time.Hour, Timeout: 50 * time.Millisecond},
	})
	s.checkRound()
	s.checkRound()
	if got := healthy(s); len(got) != 0 {
		t.Errorf("in rotation after two failed rounds: %v, want none", got)
	}
	if _, err := get(t, s, "/"); err != ErrUnavailable {
		t.Errorf("Do with no healthy instance: %v, want ErrUnavailable", err)
	}
	if n := slow.requests(); n != 0 {
		t.Errorf("backend saw %d requests while out of rotation, want 0", n)
	}
}

// TestKilledInstanceLeavesRotation runs real check loops while clients
// send GETs: a killed instance leaves rotation, no request fails on the
// way (each one that hits the dead instance is retried on the live one),
// none reaches it afterwards, and it returns once restarted.
func TestKilledInstanceLeavesRotation(t *testing.T) {
	const interval, threshold = 100 * time.Millisecond, 2
	live, doomed := startHealthBackend(t), startHealthBackend(t)
	s := newTestService(t, Options{
		Instances: []string{live.addr, doomed.addr},
		Retries:   1,
		HealthCheck: &HealthCheck{Path: "/health", Interval: interval, Timeout: interval,
			UnhealthyThreshold: threshold, HealthyThreshold: threshold},
		// Active checks alone take the instance out in this test.
		EjectAfter: -1,
	})

	var (
		stop   = make(chan struct{})
		wg     sync.WaitGroup
		sent   atomic.Int64
		failed atomic.Int64
	)
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := get(t, s, "/"); err != nil {
					failed.Add(1)
					t.Errorf("request failed: %v", err)
				}
				sent.Add(1)
				time.Sleep(time.Millisecond)
			}
		})
	}
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	})

	eventually(t, "both instances serving", func() bool { return live.requests() > 5 && doomed.requests() > 5 })
	killed := time.Now()
	doomed.kill()
	eventually(t, "out of rotation", func() bool { return !findInstance(s, doomed.addr).Healthy() })
	t.Logf("killed instance out of rotation after %v (interval %v × threshold %d = %v)",
		time.Since(killed).Round(time.Millisecond), interval, threshold, interval*threshold)

	dead := findInstance(s, doomed.addr)
	before, sentBefore := dead.Requests(), sent.Load()
	eventually(t, "more traffic", func() bool { return sent.Load() > sentBefore+50 })
	if after := dead.Requests(); after != before {
		t.Errorf("%d requests sent to the instance after it left rotation", after-before)
	}

	back := &healthBackend{}
	back.status.Store(fasthttp.StatusOK)
	back.backend = restartBackend(t, doomed.backend, back.handle)
	eventually(t, "back in rotation", dead.Healthy)
	eventually(t, "serving again", func() bool { return back.requests() > 5 })

	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed", failed.Load(), sent.Load())
	}
	assertInFlightZero(t, s)
}
