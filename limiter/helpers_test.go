package limiter

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/gateway/internal/redisconn"
)

// fakeClock is an injected clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newLimiter builds a limiter and closes it when the test ends.
func newLimiter(t testing.TB, p Policy, o Options) *Limiter {
	t.Helper()
	l, err := New(p, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// openConn opens a gateway Redis connection that retries quickly, closed
// when the test ends.
func openConn(t testing.TB, addrs ...string) *redisconn.Conn {
	t.Helper()
	c, err := redisconn.Open(redisconn.Options{
		Addrs:       addrs,
		DialTimeout: 500 * time.Millisecond,
		RetryEvery:  50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// eventually polls cond every 10ms until it holds or within passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// keyN returns the n-th test key.
func keyN(n int) []byte {
	return strconv.AppendInt([]byte("client-"), int64(n), 10)
}

// drain calls Allow n times and returns how many were admitted.
func drain(l *Limiter, key []byte, n int) int {
	admitted := 0
	for range n {
		if l.Allow(key).Allowed {
			admitted++
		}
	}
	return admitted
}
