//go:build !race

package limiter

import (
	"testing"
	"time"

	"github.com/edgegate/gateway/internal/redistest"
)

// The race detector allocates on its own, so these run without it.

func TestLocalAllowDoesNotAllocate(t *testing.T) {
	for _, alg := range []Algorithm{TokenBucket, SlidingWindow} {
		l := newLimiter(t, Policy{Algorithm: alg, Limit: 1000, Window: time.Second}, Options{MaxKeys: 1000})
		key := []byte("198.51.100.23")
		l.Allow(key)
		if avg := testing.AllocsPerRun(1000, func() { l.Allow(key) }); avg != 0 {
			t.Errorf("%s, tracked key: %v allocations per Allow, want 0", alg, avg)
		}
		// A full table evicts to make room: new keys cost nothing either.
		i := 0
		for range 2000 {
			l.Allow(keyN(i))
			i++
		}
		fresh := make([]byte, 0, 32)
		if avg := testing.AllocsPerRun(1000, func() {
			fresh = append(fresh[:0], "client-"...)
			fresh = append(fresh, byte(i), byte(i>>8), byte(i>>16))
			i++
			l.Allow(fresh)
		}); avg != 0 {
			t.Errorf("%s, new key in a full table: %v allocations per Allow, want 0", alg, avg)
		}
	}
}

func TestHybridAllowDoesNotAllocate(t *testing.T) {
	srv := redistest.Start(t)
	for _, alg := range []Algorithm{TokenBucket, SlidingWindow} {
		p := Policy{Name: "alloc-" + alg.String(), Algorithm: alg, Limit: 1 << 30, Window: time.Hour, Mode: Hybrid}
		l := newLimiter(t, p, Options{Redis: openConn(t, srv.Addr)})
		key := []byte("198.51.100.23")
		l.Allow(key)
		if avg := testing.AllocsPerRun(1000, func() { l.Allow(key) }); avg != 0 {
			t.Errorf("%s: %v allocations per Allow, want 0", alg, avg)
		}
	}
}

func TestRedisAllowDoesNotAllocate(t *testing.T) {
	srv := redistest.Start(t)
	for _, alg := range []Algorithm{TokenBucket, SlidingWindow} {
		p := Policy{Name: "alloc-" + alg.String(), Algorithm: alg, Limit: 1 << 30, Window: time.Hour, Mode: Redis}
		l := newLimiter(t, p, Options{Redis: openConn(t, srv.Addr), Timeout: time.Second})
		key := []byte("198.51.100.23")
		for range 100 {
			if !l.Allow(key).Allowed {
				t.Fatal("refused")
			}
		}
		if avg := testing.AllocsPerRun(1000, func() { l.Allow(key) }); avg != 0 {
			t.Errorf("%s: %v allocations per Allow, want 0", alg, avg)
		}
	}
}

func TestDeadlinesDoNotAllocatePerCall(t *testing.T) {
	d := newDeadlines(time.Second)
	d.context()
	if avg := testing.AllocsPerRun(1000, func() { _ = d.context() }); avg != 0 {
		t.Errorf("%v allocations per context, want 0", avg)
	}
}
