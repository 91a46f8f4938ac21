package limiter

import (
	"errors"
	"testing"
	"time"
)

// FuzzParsePolicy parses arbitrary algorithm and mode settings: an
// accepted one prints back (String) to itself, "" being the default, and
// a refused one wraps ErrInvalidPolicy.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{"", "token_bucket", "sliding_window", "local", "redis", "hybrid", "Token_Bucket", "redis ", "none"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if a, err := ParseAlgorithm(s); err == nil {
			if s != "" && a.String() != s || s == "" && a != TokenBucket {
				t.Fatalf("ParseAlgorithm(%q) = %v", s, a)
			}
		} else if !errors.Is(err, ErrInvalidPolicy) {
			t.Fatalf("ParseAlgorithm(%q): %v does not wrap ErrInvalidPolicy", s, err)
		}
		if m, err := ParseMode(s); err == nil {
			if s != "" && m.String() != s || s == "" && m != Local {
				t.Fatalf("ParseMode(%q) = %v", s, m)
			}
		} else if !errors.Is(err, ErrInvalidPolicy) {
			t.Fatalf("ParseMode(%q): %v does not wrap ErrInvalidPolicy", s, err)
		}
	})
}

// FuzzLocalAllow drives a local limiter of each algorithm with an
// arbitrary sequence of keys (one per byte, the byte choosing among 256
// clients) and clock steps, on a table small enough to evict. Whatever the
// sequence, every decision is within the policy (Remaining in
// [0, Limit), RetryAfter only on refusals), and while a key stays in the
// table it is never admitted more than its algorithm allows: the token
// bucket at most Limit plus one per emission interval elapsed over any
// stretch of time, the sliding window at most Limit per fixed window.
func FuzzLocalAllow(f *testing.F) {
	f.Add([]byte("aaaaaaaaaaaaaaaa"), []byte{0}, uint8(3))
	f.Add([]byte("abcabcabcabcabcabc"), []byte{1, 0, 200, 0, 0}, uint8(2))
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0, 0, 0, 0, 0}, []byte{255}, uint8(1))
	f.Add([]byte("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), []byte{63, 1, 1}, uint8(4))
	f.Fuzz(func(t *testing.T, keys, steps []byte, limit uint8) {
		if len(keys) > 2048 {
			return
		}
		for _, alg := range []Algorithm{TokenBucket, SlidingWindow} {
			checkLocal(t, alg, keys, steps, int(limit%8)+1)
		}
	})
}

func checkLocal(t *testing.T, alg Algorithm, keys, steps []byte, limit int) {
	const window = time.Second
	// The sliding window's quota is whole again when both of its counters
	// have expired: up to two windows.
	horizon := window
	if alg == SlidingWindow {
		horizon = 2 * window
	}
	interval := window / time.Duration(limit)
	now := time.Unix(1_900_000_000, 0)
	l, err := New(Policy{Name: "fuzz", Algorithm: alg, Limit: limit, Window: window, Mode: Local},
		Options{MaxKeys: 16, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// admitted[k] holds the admission times of key k. A key evicted from
	// the full table may legitimately start over, so the histories are
	// dropped whenever the eviction count moves.
	admitted := make(map[byte][]time.Time)
	evicted := l.Stats().Evicted
	for i, k := range keys {
		if len(steps) > 0 {
			now = now.Add(time.Duration(steps[i%len(steps)]) * window / 64)
		}
		d := l.Allow([]byte{k})
		if d.Limit != limit || d.Remaining < 0 || d.Remaining >= limit || d.Reset < 0 || d.Reset > horizon {
			t.Fatalf("%v: decision %+v for limit %d", alg, d, limit)
		}
		if d.Allowed == (d.RetryAfter > 0) || d.RetryAfter > horizon {
			t.Fatalf("%v: decision %+v", alg, d)
		}
		if e := l.Stats().Evicted; e != evicted {
			evicted = e
			clear(admitted)
		}
		if !d.Allowed {
			continue
		}
		admitted[k] = append(admitted[k], now)
		hist := admitted[k]
		for j, at := range hist {
			n := len(hist) - j // admissions in [at, now]
			switch alg {
			case TokenBucket:
				if allowed := limit + int(now.Sub(at)/interval); n > allowed {
					t.Fatalf("token bucket: key %d admitted %d times in %v, at most %d allowed", k, n, now.Sub(at), allowed)
				}
			case SlidingWindow:
				if at.UnixNano()/int64(window) == now.UnixNano()/int64(window) && n > limit {
					t.Fatalf("sliding window: key %d admitted %d times in one window, limit %d", k, n, limit)
				}
			}
		}
	}
}
