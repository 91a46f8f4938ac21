package pool

import (
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

// Instance is one backend of a service: its address, its connection pool
// and the counters balancers and metrics read. Instances are created by New
// and live as long as their Service. All methods are safe for concurrent use.
type Instance struct {
	// inFlight comes first: least_conn reads it on every instance per pick,
	// so it shares a cache line with the pointer that leads to it.
	inFlight atomic.Int64
	requests atomic.Uint64
	failures atomic.Uint64

	addr   string
	client *fasthttp.HostClient
}

// newInstance builds the instance for addr from validated options. Every
// HostClient field that matters to a proxy is set here, because fasthttp's
// defaults suit a crawler more than an edge gateway.
func newInstance(addr string, o *Options) *Instance {
	return &Instance{
		addr: addr,
		client: &fasthttp.HostClient{
			Addr: addr,
			Dial: o.Dial,

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
			// closed connection fails as 502 since nothing retries it. FIFO
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
}

// neverRetry is HostClient.RetryIfErr for the pool: no error is retried on
// the same instance. MaxIdemponentCallAttempts = 1 already stops retries;
// this makes the intent explicit should that field ever change.
func neverRetry(*fasthttp.Request, int, error) (resetTimeout, retry bool) {
	return false, false
}

// Addr returns the instance's "host:port".
func (i *Instance) Addr() string { return i.addr }

// InFlight returns the number of Do calls currently using the instance,
// including those waiting for a free connection.
func (i *Instance) InFlight() int64 { return i.inFlight.Load() }

// Requests returns the number of Do calls routed to the instance.
func (i *Instance) Requests() uint64 { return i.requests.Load() }

// Failures returns the number of Do calls on the instance that ended in
// ErrTimeout or ErrBadGateway. A call refused because every connection was
// busy (ErrUnavailable) is not counted: the instance never saw it.
func (i *Instance) Failures() uint64 { return i.failures.Load() }

// closeIdle closes the instance's idle connections; connections in use are
// returned to the pool when their exchange ends and are closed by the idle
// reaper after IdleConnTimeout.
func (i *Instance) closeIdle() { i.client.CloseIdleConnections() }
