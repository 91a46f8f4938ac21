// Package pool owns the gateway's connections to backends: for each
// service, its instances (listed, or discovered in DNS), one pooled
// fasthttp.HostClient per instance, their health, the balancer that
// chooses among the healthy ones, the circuit breaker that spares a failing
// service, and the retries that move a failed request to another instance.
//
// # A request's way through Service.Do
//
//  1. The deadline is checked: one already past is ErrTimeout at once.
//  2. The current snapshot is loaded, one atomic pointer (snapshot.go). No
//     healthy instance: ErrUnavailable at once, no backend tried.
//  3. The circuit breaker, if configured, admits the request or answers
//     ErrCircuitOpen without touching a backend (breaker.go).
//  4. The snapshot's balancer picks an instance: least_conn (default),
//     weighted round_robin, or consistent_hash on the key the caller got
//     from Service.HashKey (balancer.go, leastconn.go, roundrobin.go,
//     hashring.go, hashon.go).
//  5. The instance's HostClient sends the request once, its in-flight count
//     raised for the length of the exchange. The outcome feeds the
//     instance's counters and its passive health (passive.go).
//  6. A GET, HEAD or OPTIONS whose attempt got no byte of a response may be
//     sent again, to an instance not tried yet, within the same deadline
//     (retry.go). Nothing else is ever sent twice.
//  7. The final outcome, a transport error or a status of 500 and above
//     counting as a failure, goes to the breaker's sliding window.
//
// Failures come back as sentinel errors, ErrUnavailable and ErrCircuitOpen
// (503), ErrTimeout (504) and ErrBadGateway (502), never as upstream text.
//
// # Membership and health
//
// A service's membership and the healthy subset of it live in one
// immutable snapshot with the balancer built for it: a round-robin
// schedule, a hash ring. Whatever changes them (an active check crossing
// its threshold, a passive ejection or its expiry, a new DNS answer) takes
// the service's mutex, builds a new snapshot and swaps the pointer; a
// request in flight finishes with the snapshot it started with. The
// request path therefore takes no lock, and the cost of a change (a
// ring of a thousand instances takes some 13 ms to build) is paid once per
// change rather than per request.
//
// Active checks (health.go) probe every instance each Interval on a fresh
// connection; passive checks eject an instance after consecutive
// connection failures of real requests, so that it leaves rotation between
// checks, or without any. Discovery (discovery.go) re-resolves an SRV or
// A/AAAA name every Refresh; a failed resolution keeps the last good
// membership.
//
// # Costs
//
// The request path allocates nothing once connections are warm, with any
// balancer, breaker and retries configured: picks read atomic counters and
// immutable snapshots, the breaker packs its state and each window bucket
// into one atomic word, deadlines travel as a duration on the request, and
// the errors are preallocated. Only failures allocate (fasthttp's errors,
// and the list of instances a retry must avoid). alloc_test.go holds the
// success path and the refusals to zero.
//
// The HostClient of every instance overrides the fasthttp defaults an edge
// proxy cannot live with: no retries on the same instance, a bounded
// response body and header block, a bounded wait for a free connection,
// idle connections closed before the backends' keep-alive gives up on them,
// and header names, paths and User-Agent forwarded as the client sent them.
//
// # Lifecycle
//
// Everything in the package is safe for concurrent use. A Service is built
// once per configuration by New, which starts its background loops (checks,
// ejection expiry, discovery); a reload builds a new one and closes the
// old, whose Close stops those loops while its requests in flight, and any
// request that still reaches it, are served on its last snapshot.
package pool
