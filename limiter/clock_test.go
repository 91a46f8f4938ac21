package limiter

import (
	"runtime"
	"testing"
	"time"
)

// TestCoarseClockFollowsLimiters checks that the coarse clock ticks while
// a limiter holds it, stops with the last Close, and that a limiter keeps
// exact time after Close.
func TestCoarseClockFollowsLimiters(t *testing.T) {
	mustBeStopped(t)
	p := Policy{Limit: 10, Window: time.Second}
	a, err := New(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.lease == nil || !coarse.running() {
		t.Fatal("a limiter on the real clock with a 1s window does not use the coarse clock")
	}
	// The clock moves, by ticks, and never runs ahead of the monotonic one.
	first := coarse.read()
	eventually(t, time.Second, "coarse clock ticking", func() bool {
		now := coarse.read()
		if mono := monotonic(); now > mono {
			t.Fatalf("coarse clock %d ahead of the monotonic clock %d", now, mono)
		}
		return now > first
	})
	a.Close()
	a.Close()
	if !coarse.running() {
		t.Fatal("the clock stopped while b still holds it")
	}
	b.Close()
	if coarse.running() || coarse.now.Load() != 0 {
		t.Fatal("the clock still runs after the last Close")
	}
	// A closed limiter reads the monotonic clock: time still passes.
	before := a.clock()
	time.Sleep(2 * tick)
	if after := a.clock(); after-before < int64(2*tick) {
		t.Fatalf("after Close the limiter's clock moved %v in %v", time.Duration(after-before), 2*tick)
	}
	if d := a.Allow([]byte("k")); !d.Allowed {
		t.Fatalf("Allow after Close: %+v", d)
	}
}

// TestCoarseClockReleasedByCollector checks that a limiter dropped without
// Close releases the clock once collected.
func TestCoarseClockReleasedByCollector(t *testing.T) {
	mustBeStopped(t)
	func() {
		l, err := New(Policy{Limit: 10, Window: time.Second}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		l.Allow([]byte("k"))
	}()
	eventually(t, 5*time.Second, "the clock stopping after the collector ran", func() bool {
		runtime.GC()
		return !coarse.running()
	})
}

// TestShortWindowsReadTheExactClock checks that windows under
// coarseMinWindow, and injected clocks, do not use the coarse clock.
func TestShortWindowsReadTheExactClock(t *testing.T) {
	short := newLimiter(t, Policy{Limit: 10, Window: coarseMinWindow - time.Millisecond}, Options{})
	injected := newLimiter(t, Policy{Limit: 10, Window: time.Minute}, Options{Now: newFakeClock().Now})
	if short.lease != nil || injected.lease != nil {
		t.Fatal("a short window or an injected clock holds the coarse clock")
	}
	// A reading 200µs after another is at least 200µs later: the coarse
	// clock would mostly give the same tick twice.
	before := short.clock()
	for start := time.Now(); time.Since(start) < 200*time.Microsecond; {
	}
	if after := short.clock(); after-before < int64(200*time.Microsecond) {
		t.Fatalf("clock moved %v in 200µs", time.Duration(after-before))
	}
}

// mustBeStopped fails t if a limiter of an earlier test still holds the
// coarse clock.
func mustBeStopped(t *testing.T) {
	t.Helper()
	if coarse.running() {
		t.Fatal("the coarse clock runs before the test: an earlier test did not Close a limiter")
	}
}
