package pool

import (
	"context"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// Service is a named set of backend instances behind one balancer, with
// their health checks, circuit breaker and discovery. It is built once from
// Options by New and is safe for concurrent use.
type Service struct {
	// snap is the current membership; Do reads it once per request.
	snap atomic.Pointer[snapshot]

	name     string
	timeout  time.Duration
	retries  int
	balancer string
	hashOn   HashOn
	hashing  bool
	breaker  *breaker // nil without a circuit breaker
	health   *HealthCheck
	// ejectAfter is the passive-check threshold, 0 when passive checks
	// are off.
	ejectAfter int32
	ejectFor   time.Duration
	discovery  *discoverer // nil for static instances
	// resolveFailing remembers that the last resolution failed, so that a
	// DNS outage is logged when it starts and ends, not every Refresh.
	resolveFailing atomic.Bool

	// opts are the validated options, from which discovered instances are
	// built.
	opts Options
	log  *zap.Logger
	now  func() time.Time

	// mu serialises changes of membership and health and the snapshots
	// they publish, and guards closed.
	mu     sync.Mutex
	closed bool
	// ctx ends when the service closes; background loops and DNS lookups
	// run under it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New validates o, applies its defaults and returns the service. It dials
// no backend: connections are opened by the first requests and checks. It
// starts the background work the options ask for (a goroutine per instance
// for active health checks, one for ejection expiry without them, one for
// discovery), which Close stops. With Discovery, New waits for the first
// resolution, at most DefaultResolveTimeout; if that fails the service
// starts without instances (Do answers ErrUnavailable) and keeps resolving.
func New(o Options) (*Service, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Service{
		name:     o.Name,
		timeout:  o.Timeout,
		retries:  o.Retries,
		balancer: o.Balancer,
		health:   o.HealthCheck,
		ejectFor: o.EjectFor,
		opts:     o,
		log:      o.Log,
		now:      o.Now,
	}
	if o.Balancer == BalancerConsistentHash {
		s.hashOn, _ = ParseHashOn(o.HashOn) // validated
		s.hashing = true
	}
	if o.EjectAfter > 0 {
		s.ejectAfter = int32(min(o.EjectAfter, 1<<30))
	}
	if o.CircuitBreaker != nil {
		s.breaker = newBreaker(o.Name, o.CircuitBreaker, o.Log)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	members := make([]*Instance, len(o.Instances))
	for i, addr := range o.Instances {
		members[i] = newInstance(addr, o.weight(addr), &s.opts)
	}
	s.mu.Lock()
	s.publishLocked(members)
	for _, in := range members {
		s.startCheckLocked(in)
	}
	s.mu.Unlock()

	if s.ejectAfter > 0 && o.HealthCheck == nil {
		s.wg.Add(1)
		go s.reinstateLoop()
	}
	if o.Discovery != nil {
		s.discovery = newDiscoverer(o.Discovery)
		_ = s.refresh()
		s.wg.Add(1)
		go s.discoverLoop()
	}
	return s, nil
}

// Name returns the service's name.
func (s *Service) Name() string { return s.name }

// Instances returns the service's current instances, healthy or not:
// static ones in configuration order, discovered ones by address. The slice
// is the caller's; the instances are shared.
func (s *Service) Instances() []*Instance { return slices.Clone(s.snap.Load().members) }

// Circuit returns the state of the service's circuit; CircuitClosed when
// it has no breaker.
func (s *Service) Circuit() CircuitState {
	if s.breaker == nil {
		return CircuitClosed
	}
	return s.breaker.current(s.now)
}

// HashKey returns req's consistent-hash key by the service's HashOn, or 0
// when the service does not balance by consistent_hash or req has no key.
// The gateway passes it to Do; it does not allocate.
func (s *Service) HashKey(req *fasthttp.Request, remoteIP net.IP) uint64 {
	if !s.hashing {
		return 0
	}
	k, _ := s.hashOn.Key(req, remoteIP)
	return k
}

// Do sends req to an instance and fills resp with its response. The
// exchange ends by deadline, or after Options.Timeout when deadline is
// zero; either way the write and the read of each attempt are bounded by
// Options.Timeout as well. key is the request's consistent-hash key from
// HashKey (0 for none, and ignored by other balancers).
//
// Do answers without touching any backend when the deadline has passed
// (ErrTimeout), no instance is healthy (ErrUnavailable) or the circuit is
// open (ErrCircuitOpen); the instance returned is then nil. Otherwise it
// returns the last instance tried, and nil or the last attempt's error:
// ErrTimeout, ErrBadGateway, or ErrUnavailable when every connection to the
// instance stayed busy for MaxConnWaitTimeout. No error carries upstream
// text. A response with any status is a success for Do; the caller relays
// it.
//
// Do sends req once, or, with Options.Retries, again to other instances
// after attempts that got no response, for GET, HEAD and OPTIONS only (see
// retry.go); resp is reset before each attempt. req is written as it
// stands, over plain HTTP, to the instance's address. Do does not allocate
// when the instance has a free pooled connection and the exchange succeeds;
// waiting for a connection and failures do.
func (s *Service) Do(req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time, key uint64) (*Instance, error) {
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
	} else if s.retries > 0 {
		// Retries share one deadline, which a retry needs to know.
		deadline = time.Now().Add(timeout)
	}

	snap := s.snap.Load()
	if len(snap.healthy) == 0 {
		return nil, ErrUnavailable
	}
	if s.breaker == nil {
		in, f := s.exchange(snap, req, resp, deadline, timeout, key)
		return in, f.err
	}

	t, ok := s.breaker.admit(s.now)
	if !ok {
		return nil, ErrCircuitOpen
	}
	in, f := s.exchange(snap, req, resp, deadline, timeout, key)
	switch f.err {
	case nil:
		s.breaker.done(t, resp.StatusCode() >= fasthttp.StatusInternalServerError, s.now)
	case ErrUnavailable:
		// No backend saw the request: no verdict on the service.
		s.breaker.release(t)
	default:
		s.breaker.done(t, true, s.now)
	}
	return in, f.err
}

// Close stops health checks, ejection expiry and discovery, waits for
// them, and closes the idle connections of every instance. Requests in
// flight finish normally; their connections return to the pool and are
// closed after Options.IdleConnTimeout. Do still works after Close, on the
// last membership and health, so that a request that took s just before a
// configuration reload replaced it is served rather than failed. Close is
// safe to call more than once.
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	for _, in := range s.snap.Load().members {
		in.closeIdle()
	}
}
