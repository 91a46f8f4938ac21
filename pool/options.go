package pool

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
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
	// and a request written to a connection the backend has just closed
	// fails as 502 unless it may be retried.
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

	// DefaultEjectFor is how long a passively ejected instance stays out
	// of rotation when the service has no active health checks. Ten
	// seconds lets a restarting backend come back, and costs a crashed one
	// only a request or two every ten seconds once it is back on probation.
	DefaultEjectFor = 10 * time.Second

	// MaxWeight is the largest instance weight, the range of an SRV
	// record's weight field.
	MaxWeight = 65535
)

// Defaults of HealthCheck, CircuitBreaker and Discovery.
const (
	DefaultHealthInterval     = 10 * time.Second
	DefaultHealthTimeout      = 2 * time.Second
	DefaultUnhealthyThreshold = 2
	DefaultHealthyThreshold   = 2

	DefaultBreakerWindow  = 10 * time.Second
	DefaultMinRequests    = 20
	DefaultErrorRate      = 0.5
	DefaultOpenFor        = 30 * time.Second
	DefaultHalfOpenProbes = 3

	DefaultRefresh = 5 * time.Second

	// DefaultResolveTimeout bounds one DNS resolution, the first of which
	// New waits for.
	DefaultResolveTimeout = 2 * time.Second
)

// Balancer names accepted in Options.Balancer.
const (
	BalancerLeastConn      = "least_conn"
	BalancerRoundRobin     = "round_robin"
	BalancerConsistentHash = "consistent_hash"
)

// Options configures a Service. The zero value of every field but Name and
// Instances (or Discovery) selects the default named in its comment.
// Options is read once by New; later changes have no effect, and New does
// not modify the HealthCheck, CircuitBreaker or Discovery it points to.
type Options struct {
	// Name identifies the service in errors, logs and metrics.
	Name string

	// Instances are the backends as "host:port", one HostClient each, with
	// no duplicates. A service with neither Instances nor Discovery answers
	// every request with ErrUnavailable.
	Instances []string

	// Weights optionally gives static instances a weight from 1 to
	// MaxWeight, keyed by the address as written in Instances; unlisted
	// instances weigh 1. Only round_robin uses weights: least_conn already
	// follows each instance's capacity through its in-flight count, and a
	// hash ring keeps keys where they are rather than in proportion.
	Weights map[string]int

	// Balancer is "least_conn" (default), "round_robin" or
	// "consistent_hash". A service with a single healthy instance does no
	// balancing whatever this says.
	Balancer string

	// HashOn is the consistent_hash key: "header:NAME", "cookie:NAME" or
	// "ip" (see ParseHashOn). Required for consistent_hash, ignored by the
	// other balancers.
	HashOn string

	// Timeout bounds an exchange when the caller passes no deadline, and
	// bounds the write and the read of every exchange separately even when
	// the caller's deadline is later. Default 30s.
	Timeout time.Duration

	// MaxConnsPerInstance bounds the connections to one instance.
	// Default 1024.
	MaxConnsPerInstance int

	// MaxConnWaitTimeout is how long a request waits for a free connection
	// when all MaxConnsPerInstance connections are busy; then the attempt
	// fails with ErrUnavailable. If the caller's deadline comes first, it
	// fails with ErrTimeout instead. Default 100ms.
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

	// Dial opens connections to an instance, for requests and for health
	// checks. Nil dials TCP, bounded by the exchange's remaining time.
	// Tests and benchmarks pass an in-memory dialer; a non-nil Dial is not
	// bounded by the exchange's deadline.
	Dial fasthttp.DialFunc

	// Retries is how many more attempts a request may make, each on a
	// healthy instance not tried yet, within the same deadline. Only GET,
	// HEAD and OPTIONS requests are retried, and only after an attempt that
	// received no byte of a response (see Service.Do). Default 0.
	Retries int

	// HealthCheck turns on active health checks. Nil: none, and instances
	// leave rotation only through passive checks.
	HealthCheck *HealthCheck

	// EjectAfter is how many consecutive connection failures (refused,
	// unreachable, reset or closed, before or during a response) take an
	// instance out of rotation:
	// the passive health check, which reacts to real traffic between active
	// checks or without them. Default HealthCheck.UnhealthyThreshold, or
	// DefaultUnhealthyThreshold (2) without active checks. Negative turns
	// passive checks off.
	EjectAfter int

	// EjectFor is how long a passively ejected instance stays out of
	// rotation when there are no active health checks; it then returns on
	// probation, where a single connection failure ejects it again. With
	// active checks it returns only when they succeed HealthyThreshold
	// times. Default 10s.
	EjectFor time.Duration

	// CircuitBreaker turns on the service's circuit breaker. Nil: none.
	CircuitBreaker *CircuitBreaker

	// Discovery, instead of Instances, takes the instances from DNS.
	Discovery *Discovery

	// Log receives health, discovery and circuit transitions, never
	// per-request entries. Nil: no logging.
	Log *zap.Logger

	// Now is the clock of circuit-breaker windows and passive ejections.
	// Nil: time.Now. Deadlines and timeouts always use the real clock.
	Now func() time.Time
}

// HealthCheck configures active health checks: every Interval, each
// instance is sent "GET Path" on a fresh connection, which must be answered
// with a 2xx or 3xx status within Timeout.
type HealthCheck struct {
	// Path is the request target, starting with "/". Required.
	Path string
	// Interval between two checks of one instance. Default 10s.
	Interval time.Duration
	// Timeout bounds one check, at most Interval. Default 2s, or Interval
	// if that is shorter.
	Timeout time.Duration
	// UnhealthyThreshold consecutive failures take an instance out of
	// rotation. Default 2.
	UnhealthyThreshold int
	// HealthyThreshold consecutive successes bring it back. Default 2.
	HealthyThreshold int
}

// CircuitBreaker configures a service's circuit. A request fails when the
// exchange fails (ErrTimeout, ErrBadGateway) or the response status is 500
// or above. When at least MinRequests requests ended within the last Window
// and the share of failures among them reaches ErrorRate, the circuit opens:
// for OpenFor, Do answers ErrCircuitOpen without touching a backend. Then it
// is half-open: HalfOpenProbes requests go through, the others still get
// ErrCircuitOpen. If every probe succeeds the circuit closes; if any fails it
// opens again.
type CircuitBreaker struct {
	// Window is the sliding window failures are counted over, kept in ten
	// buckets. Default 10s.
	Window time.Duration
	// MinRequests in the window before the error rate is trusted.
	// Default 20.
	MinRequests int
	// ErrorRate, above 0 and at most 1, is the share of failures that
	// opens the circuit. Default 0.5.
	ErrorRate float64
	// OpenFor is how long the circuit stays open. Default 30s.
	OpenFor time.Duration
	// HalfOpenProbes is how many requests a half-open circuit lets
	// through, at most 1000. Default 3.
	HalfOpenProbes int
}

// Discovery takes a service's instances from DNS, re-resolved every
// Refresh. A failed resolution keeps the instances of the last good one.
type Discovery struct {
	// Name is either an SRV name starting with "_" ("_users._tcp.example.
	// internal"), whose records bring ports and weights, or "host:port",
	// whose A and AAAA records are each an instance on that port. Only the
	// SRV records of the lowest priority are used: the others are backups
	// this package does not fail over to.
	Name string
	// Refresh is the time between resolutions. Default 5s.
	Refresh time.Duration
	// Resolver is the "host:port" of the DNS server to ask, for instance a
	// Consul agent's "127.0.0.1:8600". Empty: the system's resolvers, from
	// /etc/resolv.conf.
	Resolver string
}

// withDefaults returns a copy of o with defaults applied, or an error naming
// the first invalid field. The HealthCheck, CircuitBreaker and Discovery of
// the copy are copies too.
func (o Options) withDefaults() (Options, error) {
	fail := func(format string, args ...any) (Options, error) {
		return o, fmt.Errorf("pool: service %q: "+format, append([]any{o.Name}, args...)...)
	}

	seen := make(map[string]struct{}, len(o.Instances))
	for _, addr := range o.Instances {
		if err := checkAddr(addr); err != nil {
			return fail("instance %q: %w", addr, err)
		}
		if _, dup := seen[addr]; dup {
			return fail("instance %q listed twice", addr)
		}
		seen[addr] = struct{}{}
	}
	for addr, w := range o.Weights {
		if _, ok := seen[addr]; !ok {
			return fail("weight for %q, which is not one of the instances", addr)
		}
		if w < 1 || w > MaxWeight {
			return fail("weight %d for %q: want 1 to %d", w, addr, MaxWeight)
		}
	}

	switch o.Balancer {
	case "":
		o.Balancer = BalancerLeastConn
	case BalancerLeastConn, BalancerRoundRobin, BalancerConsistentHash:
	default:
		return fail("unknown balancer %q: use %q, %q or %q",
			o.Balancer, BalancerLeastConn, BalancerRoundRobin, BalancerConsistentHash)
	}
	if o.HashOn != "" {
		if _, err := ParseHashOn(o.HashOn); err != nil {
			return fail("%w", err)
		}
	} else if o.Balancer == BalancerConsistentHash {
		return fail("consistent_hash needs HashOn (header:NAME, cookie:NAME or ip)")
	}

	if o.Retries < 0 {
		return fail("negative retries %d", o.Retries)
	}

	durations := []durationField{
		{"timeout", &o.Timeout, DefaultTimeout},
		{"max conn wait timeout", &o.MaxConnWaitTimeout, DefaultMaxConnWaitTimeout},
		{"idle conn timeout", &o.IdleConnTimeout, DefaultIdleConnTimeout},
		{"eject for", &o.EjectFor, DefaultEjectFor},
	}
	sizes := []sizeField{
		{"max conns per instance", &o.MaxConnsPerInstance, DefaultMaxConnsPerInstance},
		{"max response bytes", &o.MaxResponseBytes, DefaultMaxResponseBytes},
		{"read buffer size", &o.ReadBufferSize, DefaultReadBufferSize},
	}

	if o.HealthCheck != nil {
		h := *o.HealthCheck
		o.HealthCheck = &h
		if !strings.HasPrefix(h.Path, "/") {
			return fail("health check path %q: want one starting with /", h.Path)
		}
		if h.Timeout == 0 && h.Interval > 0 {
			h.Timeout = min(DefaultHealthTimeout, h.Interval)
		}
		durations = append(durations,
			durationField{"health check interval", &h.Interval, DefaultHealthInterval},
			durationField{"health check timeout", &h.Timeout, DefaultHealthTimeout})
		sizes = append(sizes,
			sizeField{"unhealthy threshold", &h.UnhealthyThreshold, DefaultUnhealthyThreshold},
			sizeField{"healthy threshold", &h.HealthyThreshold, DefaultHealthyThreshold})
	}

	if o.CircuitBreaker != nil {
		b := *o.CircuitBreaker
		o.CircuitBreaker = &b
		switch {
		case b.ErrorRate == 0:
			b.ErrorRate = DefaultErrorRate
		case !(b.ErrorRate > 0 && b.ErrorRate <= 1):
			return fail("circuit breaker error rate %g: want above 0 and at most 1", b.ErrorRate)
		}
		if b.HalfOpenProbes > maxHalfOpenProbes {
			return fail("circuit breaker half-open probes %d: want at most %d", b.HalfOpenProbes, maxHalfOpenProbes)
		}
		durations = append(durations,
			durationField{"circuit breaker window", &b.Window, DefaultBreakerWindow},
			durationField{"circuit breaker open for", &b.OpenFor, DefaultOpenFor})
		sizes = append(sizes,
			sizeField{"circuit breaker min requests", &b.MinRequests, DefaultMinRequests},
			sizeField{"circuit breaker half-open probes", &b.HalfOpenProbes, DefaultHalfOpenProbes})
	}

	if o.Discovery != nil {
		d := *o.Discovery
		o.Discovery = &d
		switch {
		case len(o.Instances) > 0:
			return fail("set either instances or discovery, not both")
		case len(o.Weights) > 0:
			return fail("weights apply to static instances; discovered SRV records bring their own")
		case d.Name == "":
			return fail("discovery needs a name: an SRV name (_service._proto.domain) or host:port")
		case strings.HasPrefix(d.Name, "_"):
			if strings.ContainsAny(d.Name, ":/ ") || strings.Contains(d.Name, "..") {
				return fail("discovery name %q: invalid SRV name", d.Name)
			}
		default:
			if err := checkAddr(d.Name); err != nil {
				return fail("discovery name %q: %w", d.Name, err)
			}
		}
		if d.Resolver != "" {
			if err := checkAddr(d.Resolver); err != nil {
				return fail("discovery resolver %q: %w", d.Resolver, err)
			}
		}
		durations = append(durations, durationField{"discovery refresh", &d.Refresh, DefaultRefresh})
	}

	for _, d := range durations {
		switch {
		case *d.v < 0:
			return fail("negative %s %v", d.name, *d.v)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	for _, s := range sizes {
		switch {
		case *s.v < 0:
			return fail("negative %s %d", s.name, *s.v)
		case *s.v == 0:
			*s.v = s.def
		}
	}
	if h := o.HealthCheck; h != nil && h.Timeout > h.Interval {
		return fail("health check timeout %v exceeds its interval %v", h.Timeout, h.Interval)
	}

	if o.EjectAfter == 0 {
		o.EjectAfter = DefaultUnhealthyThreshold
		if o.HealthCheck != nil {
			o.EjectAfter = o.HealthCheck.UnhealthyThreshold
		}
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// durationField and sizeField are an option to default and bound-check:
// its name in errors, where it lives and its default.
type (
	durationField struct {
		name string
		v    *time.Duration
		def  time.Duration
	}
	sizeField struct {
		name string
		v    *int
		def  int
	}
)

// weight returns the configured weight of a static instance.
func (o *Options) weight(addr string) int {
	if w, ok := o.Weights[addr]; ok {
		return w
	}
	return 1
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
