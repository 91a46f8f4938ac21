package pool

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestClassify(t *testing.T) {
	readTimeout := &net.OpError{Op: "read", Net: "tcp", Err: errTimeoutForTest{}}
	reset := func(op string) error { return &net.OpError{Op: op, Net: "tcp", Err: syscall.ECONNRESET} }
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		err  error
		want failure
	}{
		{"no free conns", fasthttp.ErrNoFreeConns, failure{err: ErrUnavailable, unanswered: true}},
		{"timeout", fasthttp.ErrTimeout, failure{err: ErrTimeout}},
		{"dial timeout", &dialError{fasthttp.ErrDialTimeout}, failure{err: ErrTimeout, connection: true}},
		{"TLS handshake timeout", fasthttp.ErrTLSHandshakeTimeout, failure{err: ErrTimeout}},
		{"read timeout", readTimeout, failure{err: ErrTimeout}},
		{"wrapped read timeout", errors.Join(errors.New("reading body"), readTimeout), failure{err: ErrTimeout}},
		{"refused", &dialError{refused}, failure{err: ErrBadGateway, unanswered: true, connection: true}},
		{"custom dialer", &dialError{errors.New("in-memory listener closed")}, failure{err: ErrBadGateway, unanswered: true, connection: true}},
		{"closed before the first byte", fasthttp.ErrConnectionClosed, failure{err: ErrBadGateway, unanswered: true, connection: true}},
		{"reset while writing", reset("write"), failure{err: ErrBadGateway, unanswered: true, connection: true}},
		{"reset mid-response", fmt.Errorf("reading body: %w", reset("read")), failure{err: ErrBadGateway, connection: true}},
		{"closed mid-response", io.ErrUnexpectedEOF, failure{err: ErrBadGateway, connection: true}},
		{"body too large", fasthttp.ErrBodyTooLarge, failure{err: ErrBadGateway}},
		{"malformed", errors.New("cannot find whitespace in the first line of response"), failure{err: ErrBadGateway}},
	}
	for _, tt := range tests {
		if got := classify(tt.err); got != tt.want {
			t.Errorf("%s: classify(%v) = %+v, want %+v", tt.name, tt.err, got, tt.want)
		}
	}
}

type errTimeoutForTest struct{}

func (errTimeoutForTest) Error() string   { return "i/o timeout" }
func (errTimeoutForTest) Timeout() bool   { return true }
func (errTimeoutForTest) Temporary() bool { return true }
