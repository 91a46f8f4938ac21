package pool

import (
	"errors"

	"github.com/valyala/fasthttp"
)

// The errors Do returns. Each maps to one status of the gateway's error
// contract, and none carries upstream text: fasthttp's own errors can quote
// raw response bytes, which must not reach clients or logs.
var (
	// ErrUnavailable means no instance could take the request: the service
	// has none, or every connection to the chosen instance stayed busy for
	// MaxConnWaitTimeout. The gateway answers 503.
	ErrUnavailable = errors.New("pool: no instance available")

	// ErrTimeout means the exchange did not finish by its deadline, whether
	// dialling, writing, waiting for a connection or reading. The gateway
	// answers 504.
	ErrTimeout = errors.New("pool: upstream timed out")

	// ErrBadGateway means the instance refused the connection, reset or
	// closed it before a full response, or sent a response that is invalid
	// or over MaxResponseBytes or ReadBufferSize. The gateway answers 502.
	ErrBadGateway = errors.New("pool: upstream refused, reset or sent an invalid response")
)

// classify maps an error of fasthttp.HostClient to one of the sentinels.
// It does not allocate, so a stream of failures costs no garbage.
func classify(err error) error {
	switch {
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return ErrUnavailable
	case isTimeout(err):
		return ErrTimeout
	default:
		// Connection refused or reset, fasthttp.ErrConnectionClosed (closed
		// before the first byte), io.ErrUnexpectedEOF (closed mid-response),
		// fasthttp.ErrBodyTooLarge, *fasthttp.ErrSmallBuffer (headers over
		// ReadBufferSize) and every parse error of a malformed response.
		return ErrBadGateway
	}
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
