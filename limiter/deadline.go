package limiter

import (
	"context"
	"sync/atomic"
	"time"
)

// deadlines hands out contexts that expire between timeout and
// timeout+slack from now, without allocating per request.
//
// context.WithTimeout costs four allocations and a timer per call. Here a
// context is shared by every request that starts within one slack period:
// the first request of a period allocates it and arms its timer, the
// others take it as it is. A request thus waits at least timeout and at
// most timeout+slack (slack is a quarter of timeout), and a stream of
// requests allocates a few times per timeout instead of four times per
// request. The check reads the coarse clock, which may lag a tick behind:
// a context is handed out only while more than timeout and a tick remain.
type deadlines struct {
	timeout, slack time.Duration
	cur            atomic.Pointer[sharedDeadline]
}

func newDeadlines(timeout time.Duration) *deadlines {
	return &deadlines{timeout: timeout, slack: max(timeout/4, 2*tick)}
}

// context returns a context whose deadline is at least d.timeout away.
func (d *deadlines) context() context.Context {
	now := coarse.read()
	c := d.cur.Load()
	if c != nil && c.until-now > int64(d.timeout+tick) {
		return c
	}
	n := &sharedDeadline{
		deadline: time.Now().Add(d.timeout + d.slack),
		until:    monotonic() + int64(d.timeout+d.slack),
		done:     make(chan struct{}),
	}
	time.AfterFunc(d.timeout+d.slack, n.expire)
	// A lost race leaves the winner's context for the next requests; this
	// one is still valid for the caller.
	d.cur.CompareAndSwap(c, n)
	return n
}

// sharedDeadline is a context.Context with a deadline and no parent or
// values, safe to share between goroutines.
type sharedDeadline struct {
	deadline time.Time
	until    int64 // the deadline on the monotonic clock (see monotonic)
	done     chan struct{}
	expired  atomic.Bool
}

var _ context.Context = (*sharedDeadline)(nil)

func (c *sharedDeadline) expire() {
	c.expired.Store(true)
	close(c.done)
}

// Deadline returns the time the context expires.
func (c *sharedDeadline) Deadline() (time.Time, bool) { return c.deadline, true }

// Done returns a channel closed at the deadline.
func (c *sharedDeadline) Done() <-chan struct{} { return c.done }

// Err returns context.DeadlineExceeded once the deadline has passed.
func (c *sharedDeadline) Err() error {
	if c.expired.Load() {
		return context.DeadlineExceeded
	}
	return nil
}

// Value returns nil: the context carries no values.
func (c *sharedDeadline) Value(any) any { return nil }
