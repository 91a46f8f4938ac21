package pool

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// Defaults applied by New to zero-valued Options fields. They match the
// documented defaults of the services section of the configuration file.
const (
	// DefaultTimeout bounds one upstream exchange when neither the caller
	// nor the service gives a shorter bound.
	DefaultTimeout = 30 * time.Second

	// DefaultMaxConnsPerInstance bounds the connections to one instance.
	DefaultMaxConnsPerInstance = 1024

	// DefaultMaxResponseBytes bounds a buffered response body. fasthttp's
	// own default is unlimited, which lets one backend make the gateway
	// buffer without bound.
	DefaultMaxResponseBytes = 64 << 20

	// DefaultIdleConnTimeout closes pooled connections idle this long.
	// fasthttp's default of 10s outlives the keep-alive timeout of many
	// backends (nginx 75s, but Node.js 5s and several Go frameworks less),
	// and since the pool never retries on the same instance, a request
	// written to a connection the backend has just closed fails as 502.
	DefaultIdleConnTimeout = 4 * time.Second

	// DefaultReadBufferSize is the per-connection read buffer, which is
	// also the limit on a response's status line and headers.
	DefaultReadBufferSize = 16 << 10

	// DefaultMaxConnWaitTimeout is how long a request waits for a free
	// connection when every connection to its instance is busy. It is long
	// enough to ride out a burst while connections are handed back (an
	// exchange with a healthy backend takes milliseconds), and short enough
	// that a saturated instance turns into a prompt 503 rather than a queue
	// that ends in 504 at the caller's deadline.
	DefaultMaxConnWaitTimeout = 100 * time.Millisecond
)

// Balancer names accepted in Options.Balancer.
const (
	BalancerLeastConn  = "least_conn"
	BalancerRoundRobin = "round_robin"
)

// Options configures a Service. The zero value of every field but Name and
// Instances selects the default named in its comment. Options is read once
// by New; later changes have no effect.
type Options struct {
	// Name identifies the service in errors and metrics.
	Name string

	// Instances are the backends as "host:port", one HostClient each, with
	// no duplicates. A service without instances (one whose instances are
	// to come from discovery) answers every request with ErrUnavailable.
	Instances []string

	// Balancer is "least_conn" (default) or "round_robin". A service with a
	// single instance does no balancing whatever this says.
	Balancer string

	// Timeout bounds an exchange when the caller passes no deadline, and
	// bounds the write and the read of every exchange separately even when
	// the caller's deadline is later. Default 30s.
	Timeout time.Duration

	// MaxConnsPerInstance bounds the connections to one instance.
	// Default 1024.
	MaxConnsPerInstance int

	// MaxConnWaitTimeout is how long a request waits for a free connection
	// when all MaxConnsPerInstance connections are busy; then Do returns
	// ErrUnavailable. If the caller's deadline comes first, Do returns
	// ErrTimeout instead. Default 100ms.
	MaxConnWaitTimeout time.Duration

	// MaxResponseBytes bounds a response body; a larger one fails the
	// exchange with ErrBadGateway. Default 64 MiB.
	MaxResponseBytes int

	// IdleConnTimeout closes pooled connections idle this long. Keep it
	// below the backends' own keep-alive timeout. Default 4s.
	IdleConnTimeout time.Duration

	// ReadBufferSize is the per-connection read buffer and therefore the
	// limit on a response's status line and headers; a larger header block
	// fails the exchange with ErrBadGateway. Default 16 KiB.
	ReadBufferSize int

	// Dial opens connections to an instance. Nil dials TCP, bounded by the
	// exchange's remaining time. Tests and benchmarks pass an in-memory
	// dialer; a non-nil Dial is not bounded by the exchange's deadline.
	Dial fasthttp.DialFunc
}

// withDefaults returns a copy of o with defaults applied, or an error naming
// the first invalid field.
func (o Options) withDefaults() (Options, error) {
	seen := make(map[string]struct{}, len(o.Instances))
	for _, addr := range o.Instances {
		if err := checkAddr(addr); err != nil {
			return o, fmt.Errorf("pool: service %q: instance %q: %w", o.Name, addr, err)
		}
		if _, dup := seen[addr]; dup {
			return o, fmt.Errorf("pool: service %q: instance %q listed twice", o.Name, addr)
		}
		seen[addr] = struct{}{}
	}

	switch o.Balancer {
	case "":
		o.Balancer = BalancerLeastConn
	case BalancerLeastConn, BalancerRoundRobin:
	default:
		return o, fmt.Errorf("pool: service %q: unknown balancer %q: use %q or %q",
			o.Name, o.Balancer, BalancerLeastConn, BalancerRoundRobin)
	}

	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"timeout", &o.Timeout, DefaultTimeout},
		{"max conn wait timeout", &o.MaxConnWaitTimeout, DefaultMaxConnWaitTimeout},
		{"idle conn timeout", &o.IdleConnTimeout, DefaultIdleConnTimeout},
	}
	for _, d := range durations {
		switch {
		case *d.v < 0:
			return o, fmt.Errorf("pool: service %q: negative %s %v", o.Name, d.name, *d.v)
		case *d.v == 0:
			*d.v = d.def
		}
	}

	sizes := []struct {
		name string
		v    *int
		def  int
	}{
		{"max conns per instance", &o.MaxConnsPerInstance, DefaultMaxConnsPerInstance},
		{"max response bytes", &o.MaxResponseBytes, DefaultMaxResponseBytes},
		{"read buffer size", &o.ReadBufferSize, DefaultReadBufferSize},
	}
	for _, s := range sizes {
		switch {
		case *s.v < 0:
			return o, fmt.Errorf("pool: service %q: negative %s %d", o.Name, s.name, *s.v)
		case *s.v == 0:
			*s.v = s.def
		}
	}
	return o, nil
}

// checkAddr accepts "host:port" with a numeric port. It rejects commas in
// particular, because fasthttp.HostClient would read "a:1,b:2" as two
// hosts balanced inside one client, hidden from the pool's balancer.
func checkAddr(addr string) error {
	if strings.ContainsAny(addr, ", \t") {
		return errors.New("want a single host:port")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port: %w", err)
	}
	if host == "" {
		return errors.New("empty host")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return nil
}
