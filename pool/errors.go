package pool

import (
	"errors"
	"io"
	"net"

	"github.com/valyala/fasthttp"
)

// The errors Do returns. Each maps to one status of the gateway's error
// contract, and none carries upstream text: fasthttp's own errors can quote
// raw response bytes, which must not reach clients or logs.
var (
	// ErrUnavailable means no instance could take the request: the service
	// has no healthy instance, or every connection to the instances tried
	// stayed busy for MaxConnWaitTimeout. The gateway answers 503.
	ErrUnavailable = errors.New("pool: no instance available")

	// ErrCircuitOpen means the service's circuit is open (or half-open with
	// all its probes taken): Do refused the request without touching a
	// backend. The gateway answers 503, or serves a fresh enough cached
	// response instead.
	ErrCircuitOpen = errors.New("pool: circuit open, backend spared")

	// ErrTimeout means the exchange did not finish by its deadline, whether
	// dialling, writing, waiting for a connection or reading. The gateway
	// answers 504.
	ErrTimeout = errors.New("pool: upstream timed out")

	// ErrBadGateway means the instance refused the connection, reset or
	// closed it before a full response, or sent a response that is invalid
	// or over MaxResponseBytes or ReadBufferSize. The gateway answers 502.
	ErrBadGateway = errors.New("pool: upstream refused, reset or sent an invalid response")
)

// failure is what the pool makes of one failed attempt: the sentinel the
// caller sees, and the two facts retries and passive health checks need.
type failure struct {
	err error

	// unanswered is true when the attempt received no byte of a response:
	// the connection was refused, could not be had, or was reset or closed
	// before the status line. Only such an attempt may be retried, and
	// only for a safe method: the backend may have run a request whose
	// answer it never sent, but it never sent half an answer the client
	// would see twice.
	unanswered bool

	// connection is true when the attempt failed at the connection level:
	// refused, unreachable, reset or closed, before or during the response.
	// Those count against the instance for passive health checks; a
	// timeout or a malformed response says less about the instance itself.
	connection bool
}

// classify maps an error of fasthttp.HostClient to a failure. It does not
// allocate, so a stream of failures costs no garbage beyond fasthttp's.
func classify(err error) failure {
	switch {
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		// Never sent: another instance may take it, but the instance is
		// busy, not broken.
		return failure{err: ErrUnavailable, unanswered: true}
	case isTimeout(err):
		// A dial timeout is a connection failure; it is still not retried,
		// because the deadline the retry would share is mostly spent.
		_, dial := errors.AsType[*dialError](err)
		return failure{err: ErrTimeout, connection: dial}
	}

	f := failure{err: ErrBadGateway}
	if _, dial := errors.AsType[*dialError](err); dial || errors.Is(err, fasthttp.ErrConnectionClosed) {
		// ErrConnectionClosed is fasthttp's name for any error, a reset
		// included, while reading the first byte of the response.
		f.unanswered, f.connection = true, true
		return f
	}
	if op, ok := errors.AsType[*net.OpError](err); ok {
		// A write that failed never completed the request; a read that
		// failed did so after the first response byte (or the error would
		// be ErrConnectionClosed): a partial response.
		f.unanswered = op.Op == "write"
		f.connection = true
		return f
	}
	// Closed mid-response: a connection failure, but answered in part.
	// Everything else (fasthttp.ErrBodyTooLarge, *fasthttp.ErrSmallBuffer,
	// parse errors of a malformed response) is the response's fault.
	f.connection = errors.Is(err, io.ErrUnexpectedEOF)
	return f
}

// isTimeout reports whether err is a timeout: fasthttp.ErrTimeout (which
// fasthttp returns for most deadline expiries), a dial or TLS handshake
// timeout, or a net.Error timeout from a read or write deadline that
// fasthttp passed through wrapped.
func isTimeout(err error) bool {
	if errors.Is(err, fasthttp.ErrDialTimeout) || errors.Is(err, fasthttp.ErrTLSHandshakeTimeout) {
		return true
	}
	// fasthttp.ErrTimeout has Timeout but not Temporary, so it is not a
	// net.Error; ask for the one method every timeout error shares.
	t, ok := errors.AsType[timeoutError](err)
	return ok && t.Timeout()
}

// timeoutError is the method set shared by fasthttp.ErrTimeout,
// os.ErrDeadlineExceeded and the timeouts of package net.
type timeoutError interface {
	error
	Timeout() bool
}

// dialError marks an error as the dialer's, so that classify can tell a
// refused connection (nothing sent, safe to retry) from a reset on an
// established one, whatever dialer produced it. fasthttp wraps its own dial
// errors, but not those of a custom Options.Dial.
type dialError struct{ err error }

func (e *dialError) Error() string { return "dial: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// markDial wraps the error of a failed dial in a dialError.
func markDial(conn net.Conn, err error) (net.Conn, error) {
	if err != nil {
		return nil, &dialError{err}
	}
	return conn, nil
}
