package pool

import (
	"slices"
	"time"

	"github.com/valyala/fasthttp"
)

// Service is a named set of backend instances behind one balancer. It is
// built once from Options by New and is safe for concurrent use; its
// instances and balancer do not change during its life.
type Service struct {
	name      string
	instances []*Instance
	balancer  Balancer
	timeout   time.Duration
}

// New validates o, applies its defaults and returns the service, with one
// connection pool per instance. It dials nothing: connections are opened by
// the first requests.
func New(o Options) (*Service, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	instances := make([]*Instance, len(o.Instances))
	for i, addr := range o.Instances {
		instances[i] = newInstance(addr, &o)
	}
	return &Service{
		name:      o.Name,
		instances: instances,
		balancer:  newBalancer(o.Balancer, len(instances)),
		timeout:   o.Timeout,
	}, nil
}

// Name returns the service's name.
func (s *Service) Name() string { return s.name }

// Instances returns the service's instances in configuration order. The
// slice is the caller's; the instances are shared and live as long as s.
func (s *Service) Instances() []*Instance { return slices.Clone(s.instances) }

// Do sends req to one instance chosen by the balancer and fills resp with its
// response. The exchange ends by deadline, or after Options.Timeout when
// deadline is zero; either way the write and the read are each bounded by
// Options.Timeout as well.
//
// Do sends req at most once: it never retries, on the same instance or
// another. On failure it returns ErrUnavailable, ErrTimeout or ErrBadGateway,
// never an error carrying upstream text, together with the instance tried
// (nil if none was: no instance, or a deadline already past). Do neither
// reads nor changes req beyond what fasthttp.HostClient does: req is written
// as it stands, over plain HTTP, to the instance's address, and resp is reset
// first. Do does not allocate when the instance has a free pooled connection
// and the exchange succeeds; waiting for a connection and failures do.
func (s *Service) Do(req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time) (*Instance, error) {
	// One clock read serves both the expiry check and the request timeout:
	// HostClient.DoDeadline would read the clock again to turn the deadline
	// into the same duration DoTimeout takes.
	timeout := s.timeout
	if !deadline.IsZero() {
		timeout = time.Until(deadline)
		if timeout <= 0 {
			// Checked before picking so that an instance is not charged a
			// request, or a failure, it never saw.
			return nil, ErrTimeout
		}
	}

	in := s.balancer.Pick(s.instances)
	if in == nil {
		return nil, ErrUnavailable
	}

	in.requests.Add(1)
	in.inFlight.Add(1)
	// Deferred so that a panic below cannot leave the instance looking busy
	// to least_conn forever; an open-coded defer costs about a nanosecond.
	defer in.inFlight.Add(-1)

	if err := in.client.DoTimeout(req, resp, timeout); err != nil {
		err = classify(err)
		if err != ErrUnavailable {
			in.failures.Add(1)
		}
		return in, err
	}
	return in, nil
}

// Close closes the idle connections of every instance. Requests in flight
// finish normally; their connections return to the pool and are closed
// after Options.IdleConnTimeout. Do still works after Close, so a request
// that took s just before a configuration reload replaced it is served
// rather than failed. Close is safe to call more than once.
func (s *Service) Close() {
	for _, in := range s.instances {
		in.closeIdle()
	}
}
