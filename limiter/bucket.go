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
}

var _ local = (*bucket)(nil)

func newBucket(limit int, window time.Duration, maxKeys int) *bucket {
	return &bucket{
		t:        newTable[int64](maxKeys, int64(window)),
		limit:    limit,
		window:   int64(window),
		interval: int64(window) / int64(limit),
	}
}

func (b *bucket) allow(h uint64, now int64) Decision {
	sh := b.t.shard(h)
	sh.mu.Lock()
	tat, _ := sh.get(h, now, b.t.idle)
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
		d.Remaining = int((b.window - (next - now)) / b.interval)
		d.Reset = time.Duration(next - now)
		return d
	}
	d.Reset = time.Duration(t - now)
	d.RetryAfter = time.Duration(next - now - b.window)
	return d
}
