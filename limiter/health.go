package limiter

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/zap"
)

// logEvery bounds how often a limiter logs Redis failures: an outage
// under load fails thousands of calls a second, and one line with a count
// says as much.
const logEvery = 10 * time.Second

// health tracks whether Redis is answering, for one limiter.
//
// A transport failure (refused, reset, timed out, not yet connected) marks
// Redis down for ProbeEvery: requests meanwhile do not try it, so a dead
// or hung Redis costs them nothing. Then exactly one request probes; its
// success brings everyone back, its failure starts another pause. An
// error reply from a live Redis fails only its own request.
type health struct {
	// downUntil is when the next probe may go (monotonic nanoseconds),
	// or 0 while Redis answers.
	downUntil atomic.Int64
	errors    atomic.Uint64
	every     time.Duration

	log    *zap.Logger
	policy string
	mu     sync.Mutex
	logged time.Time // last failure line
	since  uint64    // errors at that line
}

// epoch anchors monotonic readings; monotonic returns nanoseconds since
// it, never 0.
var epoch = time.Now()

func monotonic() int64 { return int64(time.Since(epoch)) + 1 }

// usable reports whether a request may call Redis now: always while it
// answers; while it is down, only the one request that claims the probe.
func (h *health) usable() bool {
	until := h.downUntil.Load()
	if until == 0 {
		return true
	}
	now := monotonic()
	return now >= until && h.downUntil.CompareAndSwap(until, now+int64(h.every))
}

// down reports whether the last attempt failed.
func (h *health) down() bool { return h.downUntil.Load() != 0 }

// failed records a failed call.
func (h *health) failed(err error) {
	n := h.errors.Add(1)
	if _, reply := rueidis.IsRedisErr(err); reply {
		// Redis is there: only this call failed.
		h.succeeded()
	} else {
		h.downUntil.Store(monotonic() + int64(h.every))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if now := time.Now(); now.Sub(h.logged) >= logEvery {
		h.log.Warn("rate limiter: redis call failed; answering per redis.on_error",
			zap.String("policy", h.policy), zap.Error(err), zap.Uint64("errors_since_last_report", n-h.since))
		h.logged, h.since = now, n
	}
}

// succeeded records an answer, and a recovery if Redis was down.
func (h *health) succeeded() {
	if h.downUntil.Load() != 0 && h.downUntil.Swap(0) != 0 {
		h.log.Info("rate limiter: redis answering again", zap.String("policy", h.policy))
	}
}

// stale reports whether err is what the first command on a connection
// that died while idle gets: end of file, reset or broken pipe. rueidis
// replaces such a connection at once, so one retry goes to a fresh one;
// without it every idle pooled connection would fail one call after a
// Redis restart. Were the command executed before the connection broke,
// the retry counts a request twice, which errs on the strict side.
func stale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
