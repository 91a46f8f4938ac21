package pool

import (
	"time"

	"github.com/valyala/fasthttp"
)

// Retries move a failed request to another instance, never back to the
// same one, and only when that cannot make the backend see a request twice
// in a way the client could notice:
//
//   - The method is GET, HEAD or OPTIONS. PUT and DELETE are idempotent by
//     RFC 9110, but the gateway does not replay them: an idempotent method
//     promises the same end state, not the same side effects (audit
//     entries, notifications, version bumps), and a replayed PUT can undo
//     another client's write made in between. PITFALLS.md lists
//     fasthttp's own PUT replays among the defaults the gateway overrides.
//     A POST is never sent twice.
//   - The failed attempt received no byte of a response: the dial failed,
//     no connection was free, or the connection was reset or closed before
//     the status line. After a timeout (the deadline is shared, and the
//     backend may still be working), a partial or invalid response, or any
//     status, even 503, the attempt's outcome stands.
//   - The request body is in memory. A body stream was consumed by the
//     first attempt and cannot be sent again.
//
// Every attempt runs within the caller's one deadline, each on a healthy
// instance not tried yet by this request, picked by the service's balancer
// (for consistent_hash, the next instance along the ring: where the key
// would move if its instance left).

// exchange sends req to the instance the balancer picks in snap, and, when
// the attempt may be retried, to others. It returns the last instance
// tried and the failure of the last attempt.
func (s *Service) exchange(snap *snapshot, req *fasthttp.Request, resp *fasthttp.Response,
	deadline time.Time, timeout time.Duration, key uint64,
) (*Instance, failure) {
	in := snap.bal.pick(key, nil)
	if in == nil {
		return nil, failure{err: ErrUnavailable}
	}
	f := s.attempt(in, req, resp, timeout)
	if f.err == nil || !f.unanswered || s.retries == 0 || !replayable(req) {
		return in, f
	}

	// The failure path only: tried escapes through the balancer interface,
	// and the success path must not allocate.
	tried := make([]*Instance, 1, 1+min(s.retries, len(snap.healthy)))
	tried[0] = in
	for range s.retries {
		remaining := time.Until(deadline)
		if remaining <= 0 {
			break
		}
		// The current snapshot, not the request's: the instance that just
		// failed may have been ejected since.
		next := s.snap.Load().bal.pick(key, tried)
		if next == nil {
			break
		}
		resp.Reset()
		in = next
		tried = append(tried, in)
		if f = s.attempt(in, req, resp, remaining); f.err == nil || !f.unanswered {
			break
		}
	}
	return in, f
}

// replayable reports whether req may be sent again after an unanswered
// attempt.
func replayable(req *fasthttp.Request) bool {
	h := &req.Header
	return (h.IsGet() || h.IsHead() || h.IsOptions()) && !req.IsBodyStream()
}

// attempt sends req to in once and accounts for it: the instance's
// counters, its passive health, and the closing of a retired instance's
// connections.
func (s *Service) attempt(in *Instance, req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration) failure {
	in.requests.Add(1)
	in.inFlight.Add(1)
	err := s.roundTrip(in, req, resp, timeout)
	if in.retired.Load() {
		// Discovery dropped the instance while this request was in flight:
		// the connection it just handed back is not wanted.
		in.closeIdle()
	}
	if err == nil {
		s.noteSuccess(in)
		return failure{}
	}
	f := classify(err)
	if f.err != ErrUnavailable {
		in.failures.Add(1)
	}
	if f.connection {
		s.noteConnFailure(in)
	}
	return f
}

// roundTrip is in.client.DoTimeout with the in-flight count held for its
// length.
func (s *Service) roundTrip(in *Instance, req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration) error {
	// Deferred so that a panic below cannot leave the instance looking busy
	// to least_conn forever; an open-coded defer costs about a nanosecond.
	defer in.inFlight.Add(-1)
	return in.client.DoTimeout(req, resp, timeout)
}
