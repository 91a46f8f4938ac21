package pool

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Active health checks send "GET HealthCheck.Path" to every instance each
// Interval, one goroutine per instance, on a HostClient of its own: checks
// neither count as requests nor compete with them for connections. Each
// check opens a fresh connection ("Connection: close"), so it also proves
// the instance still accepts connections, which a pooled keep-alive
// connection to a backend that closed its listener would not. A 2xx or 3xx
// status within Timeout passes (a redirect is not followed); anything else
// fails.
//
// An instance leaves rotation after UnhealthyThreshold consecutive
// failures, so within Interval × UnhealthyThreshold (plus one Timeout) of
// dying, and returns after HealthyThreshold consecutive successes.
// Instances start healthy: a new service, or an instance discovery just
// added, takes traffic at once rather than after HealthyThreshold intervals.

// checkUserAgent identifies health checks in backend logs.
const checkUserAgent = "edgegate-health-check"

// newChecker returns the HostClient that checks addr.
func newChecker(addr string, h *HealthCheck, dial fasthttp.DialFunc) *fasthttp.HostClient {
	c := &fasthttp.HostClient{
		Addr:                      addr,
		Name:                      checkUserAgent,
		MaxIdemponentCallAttempts: 1,
		RetryIfErr:                neverRetry,
		ReadTimeout:               h.Timeout,
		WriteTimeout:              h.Timeout,
		DisablePathNormalizing:    true,
		SecureErrorLogMessage:     true,
	}
	setDial(c, dial)
	return c
}

// probe sends one health check to in and reports whether it passed. The
// body is not read: the connection closes after the check anyway.
func (s *Service) probe(in *Instance) bool {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(s.health.Path)
	req.Header.SetHost(in.addr)
	req.SetConnectionClose()
	resp.SkipBody = true
	if err := in.checker.DoTimeout(req, resp, s.health.Timeout); err != nil {
		return false
	}
	code := resp.StatusCode()
	return code >= 200 && code < 400
}

// check runs one health check of in and applies its result.
func (s *Service) check(in *Instance) {
	passed := s.probe(in)

	in.checkMu.Lock()
	// Only the run that can change the state is counted: successes while
	// out of rotation, failures while in it. A passive ejection therefore
	// needs HealthyThreshold fresh successes to be undone.
	change := false
	up := in.up.Load()
	switch {
	case passed && !up:
		in.checkKO = 0
		if in.checkOK++; in.checkOK >= s.health.HealthyThreshold {
			in.checkOK, change = 0, true
		}
	case !passed && up:
		in.checkOK = 0
		if in.checkKO++; in.checkKO >= s.health.UnhealthyThreshold {
			in.checkKO, change = 0, true
		}
	default:
		in.checkOK, in.checkKO = 0, 0
	}
	in.checkMu.Unlock()

	switch {
	case change && passed:
		in.connFails.Store(0)
		in.ejectedAt.Store(0)
		s.setUp(in, true, "active check passed")
	case change:
		s.setUp(in, false, "active check failed")
	}
}

// checkRound checks every current member once, concurrently, and returns
// when all checks are done: one round of the checking loops, which tests
// call instead of waiting for Interval.
func (s *Service) checkRound() {
	var wg sync.WaitGroup
	for _, in := range s.snap.Load().members {
		wg.Go(func() { s.check(in) })
	}
	wg.Wait()
}

// startCheckLocked starts the checking loop of a new member, if the
// service has active checks and is not closed. s.mu must be held, which
// orders s.wg.Add before Close's s.wg.Wait.
func (s *Service) startCheckLocked(in *Instance) {
	if in.checker == nil || s.closed {
		return
	}
	s.wg.Add(1)
	go s.checkLoop(in)
}

// checkLoop checks in every Interval until the service closes or in
// leaves it. The first check comes at a random point of the first
// Interval, so that the checks of many instances, or of many gateways, do
// not all land at once.
func (s *Service) checkLoop(in *Instance) {
	defer s.wg.Done()
	first := time.NewTimer(rand.N(s.health.Interval))
	defer first.Stop()
	select {
	case <-s.ctx.Done():
		return
	case <-in.stopCheck:
		return
	case <-first.C:
	}
	tick := time.NewTicker(s.health.Interval)
	defer tick.Stop()
	for {
		s.check(in)
		select {
		case <-s.ctx.Done():
			return
		case <-in.stopCheck:
			return
		case <-tick.C:
		}
	}
}
