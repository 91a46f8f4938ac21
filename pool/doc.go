// Package pool owns the gateway's connections to backends: for each service,
// its instances, one pooled fasthttp.HostClient per instance, and the
// balancer that chooses among them.
//
// A request that the router has matched to a service passes through
// Service.Do: the balancer picks an instance (least_conn by default, or
// round_robin; a single-instance service skips the choice), the instance's
// in-flight count rises for the length of the exchange, and its HostClient
// writes the request and reads the response within the caller's deadline.
// Do sends each request once. Failures come back as one of three sentinel
// errors, ErrUnavailable (503), ErrTimeout (504) and ErrBadGateway (502),
// never as upstream text, and are counted on the instance that failed.
//
// The HostClient of every instance overrides the fasthttp defaults an edge
// proxy cannot live with: no retries on the same instance, a bounded
// response body and header block, a bounded wait for a free connection,
// idle connections closed before the backends' keep-alive gives up on them,
// and header names, paths and User-Agent forwarded as the client sent them.
//
// The request path allocates nothing once connections are warm: picks read
// atomic counters, deadlines travel as a duration on the request, and the
// errors are preallocated. alloc_test.go holds that to zero.
//
// Everything in the package is safe for concurrent use. A Service is built
// once per configuration; a reload builds a new one and closes the old,
// whose requests in flight finish undisturbed.
package pool
