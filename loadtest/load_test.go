package loadtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// load is an open-loop plan: Count requests at a fixed Rate, spread
// round-robin over Targets. Open loop means the schedule does not wait
// for answers: a slow gateway meets the same arrival rate as a fast one,
// and its slowness shows as latency and hung requests instead of as a
// quietly lower rate.
type load struct {
	// Targets are gateway listen addresses; request i goes to
	// Targets[i%len(Targets)].
	Targets []string
	// Rate is requests per second over all targets.
	Rate float64
	// Count is how many requests the run sends.
	Count int
	// Conns bounds the connections to each target. A request that finds
	// them all busy waits for one within its deadline.
	Conns int
	// Timeout is each request's deadline, from the moment it is sent: a
	// request without an answer by then is hung. It runs from the send, not
	// from the schedule, so that a test process starved of CPU (which
	// sends late) does not blame the gateway for its own lag.
	Timeout time.Duration
	// Build fills request i: method, path, headers, body. The generator
	// then sets the target host and X-Request-Id: i.
	Build func(i int, req *fasthttp.Request)
}

// forDuration sets Count so that the run lasts d at the plan's rate.
func (l load) forDuration(d time.Duration) load {
	l.Count = max(1, int(l.Rate*d.Seconds()))
	return l
}

// outcome is what became of one request. Times are offsets from the
// run's start on the monotonic clock, comparable with backendHit.At.
type outcome struct {
	// Due is when the schedule wanted it sent, Sent when it was.
	Due      time.Duration
	Sent     time.Duration
	Answered time.Duration
	// Status is the HTTP status, or one of the negative codes below.
	Status int
}

// Negative statuses: the request got no HTTP answer.
const (
	statusHung    = -1 // no answer by the deadline
	statusConnErr = -2 // the connection failed (refused, reset, closed)
	statusNotSent = -3 // the run's context ended before its turn
)

// loadRun is a plan under way; Wait returns its outcomes.
type loadRun struct {
	Start    time.Time
	perSec   float64
	outcomes []outcome
	done     chan struct{}
}

// start begins sending at once and returns while the run goes on. The run
// ends after its last request is answered or times out, or early when ctx
// ends, every request still unsent then counted as not sent.
func (l load) start(ctx context.Context) *loadRun {
	clients := make([]*fasthttp.HostClient, len(l.Targets))
	for i, addr := range l.Targets {
		clients[i] = &fasthttp.HostClient{
			Addr:               addr,
			MaxConns:           l.Conns,
			MaxConnWaitTimeout: l.Timeout,
			// One attempt: a client-side replay would hide what the gateway
			// did and could deliver a POST twice on its own.
			MaxIdemponentCallAttempts: 1,
			ReadBufferSize:            16 << 10,
		}
	}
	r := &loadRun{Start: time.Now(), perSec: l.Rate, outcomes: make([]outcome, l.Count), done: make(chan struct{})}
	interval := time.Duration(float64(time.Second) / l.Rate)
	go func() {
		defer close(r.done)
		var wg sync.WaitGroup
		for i := range l.Count {
			at := time.Duration(i) * interval
			if wait := time.Until(r.Start.Add(at)); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
				}
			}
			if ctx.Err() != nil {
				for j := i; j < l.Count; j++ {
					due := time.Duration(j) * interval
					r.outcomes[j] = outcome{Due: due, Sent: due, Answered: due, Status: statusNotSent}
				}
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.outcomes[i] = l.send(clients[i%len(clients)], i, r.Start, at)
			}()
		}
		wg.Wait()
		for _, c := range clients {
			c.CloseIdleConnections()
		}
	}()
	return r
}

// send makes request i, scheduled at the offset at from start.
func (l load) send(c *fasthttp.HostClient, i int, start time.Time, at time.Duration) outcome {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	l.Build(i, req)
	req.SetHost(c.Addr) // after Build: SetRequestURI forgets the host
	req.Header.Set("X-Request-Id", strconv.Itoa(i))
	o := outcome{Due: at, Sent: time.Since(start)}
	err := c.DoDeadline(req, resp, start.Add(o.Sent+l.Timeout))
	o.Answered = time.Since(start)
	switch {
	case err == nil:
		o.Status = resp.StatusCode()
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrNoFreeConns):
		o.Status = statusHung
	default:
		o.Status = statusConnErr
		firstConnErr.CompareAndSwap(nil, &err)
	}
	return o
}

// rate is the run's schedule, for verdict lines.
func (r *loadRun) rate() string { return fmt.Sprintf("%.0f/s", r.perSec) }

// Wait blocks until the run is over and returns one outcome per request,
// in schedule order.
func (r *loadRun) Wait() []outcome {
	<-r.done
	return r.outcomes
}

// firstConnErr keeps the first connection error of the test binary, for
// the failure message that reports connection errors.
var firstConnErr atomic.Pointer[error]

// connErrText describes the first connection error seen, if any.
func connErrText() string {
	if p := firstConnErr.Load(); p != nil {
		return (*p).Error()
	}
	return "none"
}

// starvedLag is the send lag past which a run cannot judge a lower bound:
// a generator that far behind its schedule did not offer the load.
const starvedLag = 250 * time.Millisecond

// starved reports whether the generator sent a hundredth of outs or more
// later than starvedLag: the test process, not the gateway, lacked CPU.
// Upper bounds (proofs of over-admission) hold whatever the lag; only
// "at least so many admitted" checks are skipped then.
func starved(outs []outcome) bool {
	late := 0
	for _, o := range outs {
		if o.Sent-o.Due > starvedLag {
			late++
		}
	}
	return late*100 >= len(outs)
}

// lagAndLatency returns the 99th percentiles of the send lag (sent after
// due: the generator's own slowness, a sign of a starved test process) and
// of the latency of the answered requests.
func lagAndLatency(outs []outcome) string {
	lag := make([]time.Duration, 0, len(outs))
	lat := make([]time.Duration, 0, len(outs))
	for _, o := range outs {
		lag = append(lag, o.Sent-o.Due)
		if o.Status > 0 {
			lat = append(lat, o.Answered-o.Sent)
		}
	}
	p99 := func(xs []time.Duration) time.Duration {
		if len(xs) == 0 {
			return 0
		}
		sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
		return xs[len(xs)*99/100].Round(time.Millisecond)
	}
	return fmt.Sprintf("lag_p99=%v latency_p99=%v", p99(lag), p99(lat))
}

// tally counts outcomes by status.
type tally map[int]int

// only reports the requests of t answered with none of the statuses: a
// timeout or connection error counts as an answer outside them.
func (t tally) only(statuses ...int) (others int) {
	for status, n := range t {
		if !slices.Contains(statuses, status) {
			others += n
		}
	}
	return others
}

func count(outs []outcome) tally {
	t := tally{}
	for _, o := range outs {
		t[o.Status]++
	}
	return t
}

// class sums the statuses from lo to hi inclusive.
func (t tally) class(lo, hi int) int {
	n := 0
	for s, c := range t {
		if s >= lo && s <= hi {
			n += c
		}
	}
	return n
}

// String lists every status seen, 2xx first, then the failures by name.
func (t tally) String() string {
	codes := make([]int, 0, len(t))
	for s := range t {
		codes = append(codes, s)
	}
	sort.Ints(codes)
	var b strings.Builder
	names := map[int]string{statusHung: "hung", statusConnErr: "connerr", statusNotSent: "notsent"}
	for _, s := range codes {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if name, ok := names[s]; ok {
			fmt.Fprintf(&b, "%s=%d", name, t[s])
		} else {
			fmt.Fprintf(&b, "%d=%d", s, t[s])
		}
	}
	return b.String()
}
