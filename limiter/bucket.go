package limiter

import "time"

// bucket is the local token bucket.
//
// It keeps one number per key, the theoretical arrival time (GCRA): the
// moment the bucket would be full again if nothing more were taken. Each
// admitted request pushes it one emission interval (window/limit) further;
// a request is admitted while that leaves it at most one window ahead of
// now. This is exactly a bucket of limit tokens refilled at limit per
// window, in eight bytes and without floating point. A key whose arrival
// time has passed holds a full bucket, the same as a key never seen, so
// keys idle for a window may be dropped.
type bucket struct {
	t        *table[int64]
	limit    int
	window   int64 // nanoseconds
	interval int64 // nanoseconds per token
	// perNs is 1/interval, for tokens; 0 when the window is too long for
	// a float64 quotient to be off by less than one.
	perNs float64
}

var _ local = (*bucket)(nil)

func newBucket(limit int, window time.Duration, maxKeys int) *bucket {
	b := &bucket{
		t:        newTable[int64](maxKeys, int64(window)),
		limit:    limit,
		window:   int64(window),
		interval: int64(window) / int64(limit),
	}
	if window < 1<<50 { // 13 days
		b.perNs = 1 / float64(b.interval)
	}
	return b
}

func (b *bucket) allow(h uint64, now int64) Decision {
	sh := b.t.shard(h)
	sh.mu.Lock()
	tat, _ := sh.get(h, now)
	d := b.take(tat, now)
	sh.count(d.Allowed)
	sh.mu.Unlock()
	return d
}

func (b *bucket) counts(s *Stats) { b.t.counts(s) }

// take decides one request against the arrival time *tat at now and
// advances *tat when it admits.
func (b *bucket) take(tat *int64, now int64) Decision {
	t := max(*tat, now)
	next := t + b.interval
	d := Decision{Limit: b.limit}
	if next-now <= b.window {
		*tat = next
		d.Allowed = true
		d.Remaining = b.tokens(b.window - (next - now))
		d.Reset = time.Duration(next - now)
		return d
	}
	d.Reset = time.Duration(t - now)
	d.RetryAfter = time.Duration(next - now - b.window)
	return d
}

// tokens returns x / b.interval for 0 <= x <= b.window. A 64-bit
// division takes 20 to 40 cycles, a good part of a whole decision; the
// product with the reciprocal is within one of the quotient for x under
// 2^50, and one comparison either way makes it exact.
func (b *bucket) tokens(x int64) int {
	if b.perNs == 0 {
		return int(x / b.interval)
	}
	q := int64(float64(x) * b.perNs)
	if q*b.interval > x {
		q--
	} else if (q+1)*b.interval <= x {
		q++
	}
	return int(q)
}
