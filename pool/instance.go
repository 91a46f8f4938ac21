package pool

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Instance is one backend of a service: its address, its connection pool,
// its health and the counters balancers and metrics read. Static instances
// live as long as their Service; discovered ones until DNS drops them, after
// which their requests in flight still finish. All methods are safe for
// concurrent use.
type Instance struct {
	// inFlight comes first: least_conn reads it on every instance per pick,
	// so it shares a cache line with the pointer that leads to it.
	inFlight atomic.Int64
	requests atomic.Uint64
	failures atomic.Uint64

	// up is true while the instance is in rotation. Instances start up;
	// health checks change it, always through Service.setUp, which also
	// publishes a new snapshot.
	up atomic.Bool
	// connFails counts consecutive connection failures, for passive
	// checks. Successes reset it, but only when it is not already zero, so
	// the success path reads the cache line and does not write it.
	connFails atomic.Int32
	// ejectedAt is when passive checks took the instance out of rotation,
	// in Options.Now nanoseconds; 0 when they did not.
	ejectedAt atomic.Int64
	// retired is set when discovery drops the instance. Do closes a retired
	// instance's idle connections after each exchange, so connections that
	// requests in flight hand back are not kept.
	retired atomic.Bool
	// weight is the instance's weight, which a new SRV answer may change.
	weight atomic.Int32

	addr   string
	client *fasthttp.HostClient

	// checker is the instance's active health checker; nil without active
	// checks. checkMu guards its counters: the checking goroutine and a
	// test's checkRound may both run checks.
	checker          *fasthttp.HostClient
	checkMu          sync.Mutex
	checkOK, checkKO int
	stopCheck        chan struct{}
}

// newInstance builds the instance for addr from validated options. Every
// HostClient field that matters to a proxy is set here, because fasthttp's
// defaults suit a crawler more than an edge gateway.
func newInstance(addr string, weight int, o *Options) *Instance {
	in := &Instance{
		addr: addr,
		client: &fasthttp.HostClient{
			Addr: addr,

			// One attempt, never a retry on the same instance: fasthttp would
			// otherwise repeat GET, HEAD and PUT up to five times against a
			// backend that is already failing. A retry belongs on another
			// instance and is the pool's decision, not the client's.
			MaxIdemponentCallAttempts: 1,
			RetryIfErr:                neverRetry,

			MaxConns:           o.MaxConnsPerInstance,
			MaxConnWaitTimeout: o.MaxConnWaitTimeout,
			// LIFO reuses the connection used last. Under light load that
			// keeps a small set of connections warm and lets the rest age out
			// through MaxIdleConnDuration; more importantly, the most recently
			// used connection is the one least likely to have been closed by
			// the backend's keep-alive timeout, and a request written to a
			// closed connection fails as 502 unless it may be retried. FIFO
			// would cycle through every connection, each idle the longest.
			ConnPoolStrategy:    fasthttp.LIFO,
			MaxIdleConnDuration: o.IdleConnTimeout,

			// Upper bounds per phase; the exchange's deadline, usually
			// shorter, is applied per request by DoTimeout.
			ReadTimeout:  o.Timeout,
			WriteTimeout: o.Timeout,

			MaxResponseBodySize: o.MaxResponseBytes,
			ReadBufferSize:      o.ReadBufferSize,

			// Forward what the client sent: header names as spelled, the
			// path the router matched on, and no User-Agent of our own.
			DisableHeaderNamesNormalizing: true,
			DisablePathNormalizing:        true,
			NoDefaultUserAgentHeader:      true,

			// Keep raw response bytes out of fasthttp's error text.
			SecureErrorLogMessage: true,
		},
	}
	setDial(in.client, o.Dial)
	in.up.Store(true)
	in.weight.Store(int32(weight))
	if h := o.HealthCheck; h != nil {
		in.checker = newChecker(addr, h, o.Dial)
		in.stopCheck = make(chan struct{})
	}
	return in
}

// setDial makes c dial through dial, or TCP when dial is nil, with dial
// errors marked as such for classify.
func setDial(c *fasthttp.HostClient, dial fasthttp.DialFunc) {
	if dial != nil {
		c.Dial = func(addr string) (net.Conn, error) { return markDial(dial(addr)) }
		return
	}
	// What fasthttp does when neither Dial nor DialTimeout is set: TCP
	// bounded by the exchange's remaining time, through fasthttp's
	// DNS-caching dialer.
	c.DialTimeout = func(addr string, timeout time.Duration) (net.Conn, error) {
		if timeout <= 0 {
			return markDial(fasthttp.Dial(addr))
		}
		return markDial(fasthttp.DialTimeout(addr, timeout))
	}
}

// neverRetry is HostClient.RetryIfErr for the pool: no error is retried on
// the same instance. MaxIdemponentCallAttempts = 1 already stops retries;
// this makes the intent explicit should that field ever change.
func neverRetry(*fasthttp.Request, int, error) (resetTimeout, retry bool) {
	return false, false
}

// Addr returns the instance's "host:port".
func (i *Instance) Addr() string { return i.addr }

// Weight returns the instance's weight: from Options.Weights for a static
// instance, from its SRV record for a discovered one, else 1.
func (i *Instance) Weight() int { return int(i.weight.Load()) }

// Healthy reports whether the instance is in rotation: neither active nor
// passive health checks have taken it out.
func (i *Instance) Healthy() bool { return i.up.Load() }

// InFlight returns the number of exchanges currently using the instance,
// including those waiting for a free connection.
func (i *Instance) InFlight() int64 { return i.inFlight.Load() }

// Requests returns the number of exchanges the instance was chosen for,
// retries included; health checks are not counted.
func (i *Instance) Requests() uint64 { return i.requests.Load() }

// Failures returns the number of exchanges on the instance that ended in
// ErrTimeout or ErrBadGateway. One refused because every connection was
// busy (ErrUnavailable) is not counted: the instance never saw it.
func (i *Instance) Failures() uint64 { return i.failures.Load() }

// closeIdle closes the instance's idle connections; connections in use are
// returned to the pool when their exchange ends and are closed by the idle
// reaper after IdleConnTimeout.
func (i *Instance) closeIdle() {
	i.client.CloseIdleConnections()
	if i.checker != nil {
		i.checker.CloseIdleConnections()
	}
}
