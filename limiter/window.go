package limiter

import (
	"math"
	"time"
)

// window is the local sliding window.
//
// It is the classic two-counter approximation: requests are counted in
// fixed windows, and the count "in the last window" is estimated as the
// current window's count plus the previous window's count weighted by the
// share of the previous window still inside the sliding one. The estimate
// is exact when requests are spread evenly and never lets a burst at a
// window boundary double the limit, as a plain fixed window does; it costs
// sixteen bytes per key instead of a timestamp per request. Redis mode,
// where strictness is the point, keeps the exact log instead.
//
// A key idle for two windows has both counters expired and is dropped
// like a key never seen.
type window struct {
	t     *table[windowState]
	limit int
	size  int64 // nanoseconds
}

var _ local = (*window)(nil)

// windowState is one key's counters: index is the number of the current
// fixed window (time / size).
type windowState struct {
	index     int64
	cur, prev uint32
}

func newWindow(limit int, size time.Duration, maxKeys int) *window {
	return &window{
		t:     newTable[windowState](maxKeys, 2*int64(size)),
		limit: limit,
		size:  int64(size),
	}
}

func (w *window) allow(h uint64, now int64) Decision {
	sh := w.t.shard(h)
	sh.mu.Lock()
	s, _ := sh.get(h, now)
	d := w.take(s, now)
	sh.count(d.Allowed)
	sh.mu.Unlock()
	return d
}

func (w *window) counts(s *Stats) { w.t.counts(s) }

// take decides one request against s at now and counts it when admitted.
func (w *window) take(s *windowState, now int64) Decision {
	idx := now / w.size
	switch {
	case idx == s.index:
	case idx == s.index+1:
		s.prev, s.cur = s.cur, 0
	case idx > s.index:
		s.prev, s.cur = 0, 0
	default:
		// The clock went back: stay in the window already counted.
		idx, now = s.index, s.index*w.size
	}
	s.index = idx
	left := (idx+1)*w.size - now // until the current window ends, > 0
	est := float64(s.prev)*float64(left)/float64(w.size) + float64(s.cur)
	d := Decision{Limit: w.limit}
	if est+1 <= float64(w.limit) {
		s.cur++
		d.Allowed = true
		d.Remaining = int(float64(w.limit) - est - 1)
		// This request leaves the estimate when the next window ends.
		d.Reset = time.Duration(left + w.size)
		return d
	}
	switch {
	case s.cur > 0:
		d.Reset = time.Duration(left + w.size)
	case s.prev > 0:
		d.Reset = time.Duration(left)
	}
	d.RetryAfter = w.retry(s, left)
	return d
}

// retry returns how long until the estimate leaves room for one request.
func (w *window) retry(s *windowState, left int64) time.Duration {
	size := float64(w.size)
	room := float64(w.limit-1) - float64(s.cur) // what the previous window may still weigh
	var dt float64
	if room >= 0 && s.prev > 0 {
		// Within this window: prev*(left-dt)/size <= room.
		dt = float64(left) - room*size/float64(s.prev)
	} else {
		// Once this window is the previous one: cur*(size-x)/size <= limit-1.
		dt = float64(left) + size*(1-float64(w.limit-1)/float64(s.cur))
	}
	return time.Duration(max(math.Ceil(dt), 1))
}
