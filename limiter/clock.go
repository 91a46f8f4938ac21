package limiter

import (
	"sync"
	"sync/atomic"
	"time"
)

// tick is the resolution of the coarse clock.
const tick = time.Millisecond

// coarseMinWindow is the shortest window a policy may have for its
// limiter to read the coarse clock; shorter windows read the monotonic
// clock on every decision. At 100ms a late tick shifts a decision by at
// most about one percent of a window.
const coarseMinWindow = 100 * time.Millisecond

// coarse is the process's coarse clock, shared by every Limiter that uses
// the real clock.
//
// Reading the monotonic clock costs 20 to 40ns (a vDSO call), a third of
// what a local decision costs without it. Here one goroutine stores the
// monotonic time in an atomic word every millisecond, and a decision
// reads that word instead: one load from a cache line every core keeps,
// rewritten once per tick.
//
// Millisecond time is exact enough for rate limits. A token bucket admits
// exactly its rate in the long run on any clock that never runs ahead: a
// late reading delays a refill, it never loses one, as long as the bucket
// can hold what one tick refills, which a window of at least
// coarseMinWindow guarantees. A sliding window's boundaries move by at
// most one tick. Every duration a Decision reports is then at most a tick
// longer than the exact one: Retry-After and RateLimit-Reset are sent in
// whole seconds anyway.
//
// The ticking goroutine runs while at least one Limiter holds the clock:
// New acquires it, Close (or the garbage collector, for a Limiter that
// was dropped without Close) releases it, and the last release stops the
// goroutine. While it is stopped the word holds 0 and readers fall back
// to the monotonic clock, so a Limiter used after Close keeps exact time.
type coarseClock struct {
	// now is monotonic() as of the last tick, or 0 while stopped.
	now atomic.Int64

	mu    sync.Mutex
	users int
	quit  chan struct{}
	done  chan struct{}
}

var coarse coarseClock

// read returns the clock's time: monotonic nanoseconds, up to a tick
// behind the monotonic clock while ticking (more on a machine starved of
// CPU, where the ticking goroutine runs late), exact while stopped. It
// never runs ahead of monotonic(), so lateness only ever delays a refill
// or the end of a refusal.
func (c *coarseClock) read() int64 {
	if n := c.now.Load(); n != 0 {
		return n
	}
	return monotonic()
}

// acquire starts the ticking goroutine if it is not running, and counts
// one more user.
func (c *coarseClock) acquire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.users++
	if c.users > 1 {
		return
	}
	c.now.Store(monotonic())
	c.quit, c.done = make(chan struct{}), make(chan struct{})
	go c.run(c.quit, c.done)
}

// release counts one user less and stops the goroutine after the last.
func (c *coarseClock) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.users--
	if c.users > 0 {
		return
	}
	if c.users < 0 {
		panic("BUG: limiter: coarse clock released more often than acquired")
	}
	close(c.quit)
	<-c.done
	c.now.Store(0)
}

// running reports whether the ticking goroutine runs, for tests.
func (c *coarseClock) running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.users > 0
}

func (c *coarseClock) run(quit, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-quit:
			return
		case <-t.C:
			c.now.Store(monotonic())
		}
	}
}

// clockLease is a Limiter's hold on the coarse clock. It is a separate
// object so that a cleanup attached to the Limiter can release it
// without keeping the Limiter reachable.
type clockLease struct {
	once sync.Once
}

func (c *clockLease) release() { c.once.Do(coarse.release) }
