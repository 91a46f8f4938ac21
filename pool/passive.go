package pool

import "time"

// Passive health checks watch real traffic. Every attempt that fails at the
// connection level (refused, unreachable, reset, closed before or during
// the response; see failure.connection) adds one to the instance's count of
// consecutive connection failures, and every attempt that gets a response,
// whatever its status, resets it. At Options.EjectAfter the instance leaves
// rotation at once, without waiting for an active check: with retries on,
// the request that tipped it over is already on another instance.
//
// Without active checks, an ejected instance returns after
// Options.EjectFor on probation: its count starts one short of the
// threshold, so a single connection failure ejects it again while one
// success clears it. With active checks it returns only when they have
// succeeded HealthyThreshold times in a row.
//
// Timeouts and malformed responses do not count: a slow request or a bad
// handler says little about whether the instance is reachable, and the
// circuit breaker watches those across the service.

// noteSuccess records an attempt that got a response.
func (s *Service) noteSuccess(in *Instance) {
	// Read first: on the success path the line is usually zero and stays
	// shared in every CPU's cache.
	if in.connFails.Load() != 0 {
		in.connFails.Store(0)
	}
}

// noteConnFailure records a connection-level failure of an attempt and
// ejects the instance at the threshold.
func (s *Service) noteConnFailure(in *Instance) {
	if s.ejectAfter <= 0 {
		return
	}
	if in.connFails.Add(1) >= s.ejectAfter && in.up.Load() {
		in.ejectedAt.Store(s.now().UnixNano())
		s.setUp(in, false, "passive check: consecutive connection failures")
	}
}

// reinstateExpired puts back on probation every passively ejected instance
// whose ejection has lasted Options.EjectFor by the service's clock. It is
// one round of reinstateLoop. With active checks it does nothing: they
// decide when an instance returns.
func (s *Service) reinstateExpired() {
	if s.health != nil {
		return
	}
	now := s.now().UnixNano()
	for _, in := range s.snap.Load().members {
		at := in.ejectedAt.Load()
		if at == 0 || in.up.Load() || now-at < int64(s.ejectFor) {
			continue
		}
		in.connFails.Store(s.ejectAfter - 1)
		in.ejectedAt.Store(0)
		s.setUp(in, true, "ejection over, on probation")
	}
}

// reinstateLoop runs reinstateExpired until the service closes, a few
// times per EjectFor so that an ejection lasts at most a quarter longer
// than configured.
func (s *Service) reinstateLoop() {
	defer s.wg.Done()
	t := time.NewTicker(min(max(s.ejectFor/4, 10*time.Millisecond), time.Second))
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.reinstateExpired()
		}
	}
}
