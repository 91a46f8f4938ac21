package limiter

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestWindowWeighsThePreviousWindow(t *testing.T) {
	clock := newFakeClock()
	l := newLimiter(t, Policy{Algorithm: SlidingWindow, Limit: 10, Window: time.Second}, Options{Now: clock.Now})
	key := []byte("consumer-1")

	// Fixed windows start at New. Ten requests in the middle of the first.
	clock.Add(500 * time.Millisecond)
	for i := range 10 {
		if d := l.Allow(key); !d.Allowed || d.Remaining != 9-i {
			t.Fatalf("request %d: %+v", i, d)
		}
	}
	d := l.Allow(key)
	// The ten weigh 9 (the room for one more) once 10% of them has slid
	// out: 100ms into the next window, 600ms from now.
	if d.Allowed || d.RetryAfter != 600*time.Millisecond || d.Reset != 1500*time.Millisecond {
		t.Fatalf("11th: %+v, want refused, retry after 600ms, reset 1.5s", d)
	}

	// Half-way through the second window the first weighs 5: room for 5.
	clock.Add(time.Second)
	if n := drain(l, key, 10); n != 5 {
		t.Fatalf("half a window later: %d admitted, want 5", n)
	}
	// Two windows on, everything has slid out.
	clock.Add(2 * time.Second)
	if n := drain(l, key, 20); n != 10 {
		t.Fatalf("two windows later: %d admitted, want 10", n)
	}
}

func TestWindowBoundaryBurstIsNotDoubled(t *testing.T) {
	clock := newFakeClock()
	l := newLimiter(t, Policy{Algorithm: SlidingWindow, Limit: 100, Window: time.Minute}, Options{Now: clock.Now})
	key := []byte("k")
	clock.Add(time.Minute - time.Second)
	first := drain(l, key, 200)
	clock.Add(2 * time.Second) // across the fixed-window boundary
	second := drain(l, key, 200)
	if first != 100 || second > 2 {
		t.Fatalf("burst at the boundary: %d then %d admitted; a fixed window would give 100 then 100", first, second)
	}
}

func TestWindowDecisionsAreConsistent(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, limit := range []int{1, 3, 7, 100} {
		w := newWindow(limit, time.Second, 64)
		var s windowState
		var now int64
		for range 2000 {
			now += rng.Int64N(int64(200 * time.Millisecond))
			d := w.take(&s, now)
			checkConsistent(t, limit, d, func(at int64) Decision { c := s; return w.take(&c, now+at) },
				func(at int64, n int) int {
					c, admitted := s, 0
					for range n {
						if w.take(&c, now+at).Allowed {
							admitted++
						}
					}
					return admitted
				})
		}
	}
}

func TestWindowClockGoingBackKeepsCounts(t *testing.T) {
	w := newWindow(5, time.Second, 64)
	var s windowState
	now := int64(3 * time.Second)
	for range 5 {
		w.take(&s, now)
	}
	if d := w.take(&s, now-int64(2*time.Second)); d.Allowed {
		t.Fatalf("clock stepped back two windows: %+v, want the counts kept", d)
	}
}
