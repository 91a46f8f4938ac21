package limiter

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBucketBurstThenRefill(t *testing.T) {
	clock := newFakeClock()
	l := newLimiter(t, Policy{Limit: 10, Window: time.Second}, Options{Now: clock.Now})
	key := []byte("203.0.113.7")

	for i := range 10 {
		d := l.Allow(key)
		if !d.Allowed || d.Remaining != 9-i || d.Limit != 10 {
			t.Fatalf("request %d: %+v, want admitted with %d remaining", i, d, 9-i)
		}
		if want := time.Duration(i+1) * 100 * time.Millisecond; d.Reset != want {
			t.Fatalf("request %d: Reset %v, want %v (time to refill what was taken)", i, d.Reset, want)
		}
	}
	d := l.Allow(key)
	if d.Allowed || d.Remaining != 0 || d.RetryAfter != 100*time.Millisecond || d.Reset != time.Second {
		t.Fatalf("11th request: %+v, want refused, retry after 100ms, reset 1s", d)
	}

	// One token per 100ms.
	clock.Add(100*time.Millisecond - time.Nanosecond)
	if l.Allow(key).Allowed {
		t.Fatal("admitted 1ns before the next token")
	}
	clock.Add(time.Nanosecond)
	if d := l.Allow(key); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after 100ms: %+v, want one admitted", d)
	}
	if l.Allow(key).Allowed {
		t.Fatal("two admitted after one token's time")
	}

	// A full window refills the whole bucket, no more.
	clock.Add(time.Hour)
	if n := drain(l, key, 20); n != 10 {
		t.Fatalf("after an idle hour: %d admitted, want the bucket size 10", n)
	}
}

func TestBucketKeysAreIndependent(t *testing.T) {
	clock := newFakeClock()
	l := newLimiter(t, Policy{Limit: 3, Window: time.Minute}, Options{Now: clock.Now})
	if n := drain(l, []byte("a"), 5); n != 3 {
		t.Fatalf("a: %d admitted, want 3", n)
	}
	if n := drain(l, []byte("b"), 5); n != 3 {
		t.Fatalf("b: %d admitted, want 3", n)
	}
}

// TestBucketDecisionsAreConsistent checks, over random traffic, what the
// headers promise: Remaining more requests pass at once and no more;
// after RetryAfter one passes and not a nanosecond earlier; after Reset
// the bucket is full.
func TestBucketDecisionsAreConsistent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, limit := range []int{1, 3, 7, 100} {
		b := newBucket(limit, time.Second, 64)
		var tat, now int64
		for range 2000 {
			now += rng.Int64N(int64(300 * time.Millisecond))
			d := b.take(&tat, now)
			checkConsistent(t, limit, d, func(at int64) Decision { s := tat; return b.take(&s, now+at) },
				func(at int64, n int) int {
					s, admitted := tat, 0
					for range n {
						if b.take(&s, now+at).Allowed {
							admitted++
						}
					}
					return admitted
				})
		}
	}
}

// checkConsistent checks decision d against probes of a copy of the
// state: probe(at) decides one request at offset at; count(at, n) sends n
// requests at offset at and counts admissions.
func checkConsistent(t *testing.T, limit int, d Decision, probe func(at int64) Decision, count func(at int64, n int) int) {
	t.Helper()
	if d.Remaining < 0 || d.Reset < 0 || d.RetryAfter < 0 || d.Remaining > limit {
		t.Fatalf("%+v: out of range", d)
	}
	if d.Allowed {
		if d.RetryAfter != 0 {
			t.Fatalf("%+v: admitted with a RetryAfter", d)
		}
		if n := count(0, d.Remaining+1); n != d.Remaining {
			t.Fatalf("%+v: %d more admitted at once, want Remaining", d, n)
		}
	} else {
		if d.Remaining != 0 || d.RetryAfter <= 0 {
			t.Fatalf("%+v: refused without RetryAfter or with Remaining", d)
		}
		if probe(int64(d.RetryAfter) - int64(time.Microsecond)).Allowed {
			t.Fatalf("%+v: admitted before RetryAfter", d)
		}
		if !probe(int64(d.RetryAfter)).Allowed {
			t.Fatalf("%+v: refused at RetryAfter", d)
		}
	}
	if n := count(int64(d.Reset), limit+1); n < limit-1 || n > limit {
		// The sliding-window estimate may keep a fraction of a request
		// at Reset's float rounding; the bucket is exact.
		t.Fatalf("%+v: %d admitted after Reset, want the full limit %d", d, n, limit)
	}
}

// TestBucketTokensIsTheQuotient checks the division-free quotient against
// the division, at the edges of every token and at random points, over
// intervals from one nanosecond to days.
func TestBucketTokensIsTheQuotient(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		window := time.Duration(rng.Int64N(int64(14 * 24 * time.Hour)))
		limit := 1 + rng.IntN(1<<20)
		if window/time.Duration(limit) < 1 {
			continue
		}
		b := newBucket(limit, window, 1)
		check := func(x int64) {
			if x < 0 || x > b.window {
				return
			}
			if got, want := b.tokens(x), int(x/b.interval); got != want {
				t.Fatalf("window %v limit %d: tokens(%d) = %d, want %d", window, limit, x, got, want)
			}
		}
		for range 20 {
			k := rng.Int64N(b.window/b.interval + 1)
			check(k*b.interval - 1)
			check(k * b.interval)
			check(k*b.interval + 1)
			check(rng.Int64N(b.window + 1))
		}
		check(b.window)
	}
}
