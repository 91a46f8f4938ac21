package pool

import (
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// CircuitState is the state of a service's circuit breaker.
type CircuitState uint8

// The circuit states. A service without a breaker is always closed.
const (
	// CircuitClosed lets every request through and counts failures.
	CircuitClosed CircuitState = iota
	// CircuitOpen refuses every request with ErrCircuitOpen.
	CircuitOpen
	// CircuitHalfOpen lets HalfOpenProbes requests through to decide.
	CircuitHalfOpen
)

// String returns "closed", "open" or "half_open", the label /metrics uses.
func (c CircuitState) String() string {
	switch c {
	case CircuitClosed:
		return "closed"
	case CircuitOpen:
		return "open"
	case CircuitHalfOpen:
		return "half_open"
	}
	return "unknown"
}

// maxHalfOpenProbes bounds CircuitBreaker.HalfOpenProbes to what the
// breaker's state word has room to count.
const maxHalfOpenProbes = 1000

// The breaker's state is one 64-bit word, so that every transition is a
// single compare-and-swap and no request ever sees a state with counters
// from another:
//
//	bits  0-1   CircuitState
//	bits  2-17  probes admitted in this half-open period
//	bits 18-33  probes that succeeded
//	bits 34-63  generation, advanced on every entry into half-open, so that
//	            a late probe of an earlier half-open period counts for nothing
const (
	stateMask     = 1<<2 - 1
	admittedShift = 2
	succeededMask = 1<<16 - 1
	succeedShift  = 18
	genShift      = 34
)

func packState(st CircuitState, admitted, succeeded, gen uint64) uint64 {
	return uint64(st) | admitted<<admittedShift | succeeded<<succeedShift | gen<<genShift
}

func stateOf(w uint64) CircuitState { return CircuitState(w & stateMask) }
func admittedOf(w uint64) uint64    { return w >> admittedShift & succeededMask }
func succeededOf(w uint64) uint64   { return w >> succeedShift & succeededMask }
func genOf(w uint64) uint64         { return w >> genShift }

// breaker is a service's circuit breaker (see CircuitBreaker). The request
// path costs one atomic load to admit a request while closed, and one
// compare-and-swap on the current bucket of the window to record it; a
// failure also sums the window. No lock anywhere.
type breaker struct {
	state    atomic.Uint64
	openedAt atomic.Int64 // Options.Now nanoseconds; read only while open
	win      window

	minRequests uint64
	errorRate   float64
	openFor     int64
	probes      uint64

	name string
	log  *zap.Logger
}

func newBreaker(name string, c *CircuitBreaker, log *zap.Logger) *breaker {
	b := &breaker{
		minRequests: uint64(c.MinRequests),
		errorRate:   c.ErrorRate,
		openFor:     int64(c.OpenFor),
		probes:      uint64(c.HalfOpenProbes),
		name:        name,
		log:         log,
	}
	b.win.width = max(int64(c.Window)/windowBuckets, 1)
	return b
}

// ticket is a request's admission: a probe of a half-open generation, or
// an ordinary request of a closed circuit.
type ticket struct {
	probe bool
	gen   uint64
}

// admit decides whether a request may go through, and moves an open
// circuit whose OpenFor is over to half-open. now is read only then.
func (b *breaker) admit(now func() time.Time) (ticket, bool) {
	for {
		w := b.state.Load()
		switch stateOf(w) {
		case CircuitClosed:
			return ticket{}, true
		case CircuitOpen:
			if now().UnixNano()-b.openedAt.Load() < b.openFor {
				return ticket{}, false
			}
			if b.state.CompareAndSwap(w, packState(CircuitHalfOpen, 0, 0, genOf(w)+1)) {
				b.log.Info("circuit half-open", zap.String("service", b.name), zap.Uint64("probes", b.probes))
			}
		default: // half-open
			if admittedOf(w) >= b.probes {
				return ticket{}, false
			}
			if b.state.CompareAndSwap(w, w+1<<admittedShift) {
				return ticket{probe: true, gen: genOf(w)}, true
			}
		}
	}
}

// release gives back the probe slot of a request that reached no backend
// (no instance could take it), so that it neither closes nor reopens the
// circuit and another request may probe instead.
func (b *breaker) release(t ticket) {
	if !t.probe {
		return
	}
	for {
		w := b.state.Load()
		if stateOf(w) != CircuitHalfOpen || genOf(w) != t.gen || admittedOf(w) == 0 {
			return
		}
		if b.state.CompareAndSwap(w, w-1<<admittedShift) {
			return
		}
	}
}

// done records the outcome of an admitted request.
func (b *breaker) done(t ticket, failed bool, now func() time.Time) {
	if t.probe {
		b.probeDone(t, failed, now)
		return
	}
	if stateOf(b.state.Load()) != CircuitClosed {
		// Admitted before the circuit opened; the window restarts when it
		// closes again, so the result has no use.
		return
	}
	ns := now().UnixNano()
	b.win.add(ns, failed)
	if !failed {
		return
	}
	requests, failures := b.win.sum(ns)
	if requests < b.minRequests || float64(failures) < b.errorRate*float64(requests) {
		return
	}
	w := b.state.Load()
	if stateOf(w) != CircuitClosed {
		return
	}
	b.openedAt.Store(ns)
	if b.state.CompareAndSwap(w, packState(CircuitOpen, 0, 0, genOf(w))) {
		b.log.Warn("circuit opened",
			zap.String("service", b.name),
			zap.Uint64("requests", requests),
			zap.Uint64("failures", failures),
			zap.Duration("open_for", time.Duration(b.openFor)))
	}
}

// probeDone records a probe's outcome: one failure reopens the circuit,
// HalfOpenProbes successes close it.
func (b *breaker) probeDone(t ticket, failed bool, now func() time.Time) {
	for {
		w := b.state.Load()
		if stateOf(w) != CircuitHalfOpen || genOf(w) != t.gen {
			return
		}
		if failed {
			// openedAt is written before the swap that makes it count; a
			// losing writer's value is overwritten by the next opening.
			b.openedAt.Store(now().UnixNano())
			if b.state.CompareAndSwap(w, packState(CircuitOpen, 0, 0, genOf(w))) {
				b.log.Warn("circuit reopened: a half-open probe failed",
					zap.String("service", b.name), zap.Duration("open_for", time.Duration(b.openFor)))
				return
			}
			continue
		}
		if succeededOf(w)+1 < b.probes {
			if b.state.CompareAndSwap(w, w+1<<succeedShift) {
				return
			}
			continue
		}
		b.win.reset()
		if b.state.CompareAndSwap(w, packState(CircuitClosed, 0, 0, genOf(w))) {
			b.log.Info("circuit closed: half-open probes succeeded",
				zap.String("service", b.name), zap.Uint64("probes", b.probes))
			return
		}
	}
}

// current returns the state as metrics should show it: an open circuit
// whose OpenFor is over counts as half-open, which the next request makes
// it.
func (b *breaker) current(now func() time.Time) CircuitState {
	st := stateOf(b.state.Load())
	if st == CircuitOpen && now().UnixNano()-b.openedAt.Load() >= b.openFor {
		return CircuitHalfOpen
	}
	return st
}

// windowBuckets is the number of buckets of a breaker's sliding window:
// the window slides by a tenth of its length.
const windowBuckets = 10

// Each bucket is one 64-bit word: the bucket's epoch (its index in time,
// modulo 2^24) and its request and failure counts, 20 bits each. Packing
// them lets a request move a bucket to a new epoch and count itself in one
// compare-and-swap, with no lock and no lost counts. A million requests per
// bucket is beyond any one service on one gateway; the counts saturate
// there rather than wrap.
const (
	countBits  = 20
	countMask  = 1<<countBits - 1
	epochShift = 2 * countBits
	epochMask  = 1<<24 - 1
)

// window counts requests and failures over the last windowBuckets bucket
// widths.
type window struct {
	width   int64
	buckets [windowBuckets]atomic.Uint64
}

// add counts one request at time ns.
func (w *window) add(ns int64, failed bool) {
	idx := uint64(ns / w.width)
	b := &w.buckets[idx%windowBuckets]
	epoch := idx & epochMask
	inc := uint64(1) << countBits
	if failed {
		inc |= 1
	}
	for {
		old := b.Load()
		var next uint64
		switch {
		case old>>epochShift != epoch:
			next = epoch<<epochShift | inc
		case old>>countBits&countMask == countMask:
			return
		default:
			next = old + inc
		}
		if b.CompareAndSwap(old, next) {
			return
		}
	}
}

// sum returns the requests and failures counted in the window ending at
// time ns.
func (w *window) sum(ns int64) (requests, failures uint64) {
	idx := uint64(ns / w.width)
	for i := range w.buckets {
		v := w.buckets[i].Load()
		if (idx-v>>epochShift)&epochMask < windowBuckets {
			requests += v >> countBits & countMask
			failures += v & countMask
		}
	}
	return requests, failures
}

// reset forgets every count.
func (w *window) reset() {
	for i := range w.buckets {
		w.buckets[i].Store(0)
	}
}
