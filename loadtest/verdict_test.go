package loadtest

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

// longMode reports whether LOADTEST_LONG=1 asks for the long runs.
func longMode() bool { return os.Getenv("LOADTEST_LONG") == "1" }

// pick returns short, or long in long mode.
func pick[T any](short, long T) T {
	if longMode() {
		return long
	}
	return short
}

// scaled multiplies a rate by raceScale.
func scaled(rate float64) float64 { return rate * raceScale }

// admit is one admitted request: the client sent it at Sent and the
// backend received it at At, so the gateway's decision to admit it was
// taken somewhere in [Sent, At].
type admit struct {
	ID       int
	Sent, At time.Duration
}

// admitted joins the 2xx outcomes of run with the backend's record of
// them, in order of Sent; the arrivals become offsets from the run's
// start, like Sent. It also returns how many 2xx answers the backend never
// saw (a cache hit, or a gateway bug) and how many backend hits carry an
// id the client does not know.
func admitted(run *loadRun, hits []backendHit) (adm []admit, unseen, strays int) {
	outs := run.Wait()
	at := make(map[int]time.Duration, len(hits))
	for _, h := range hits {
		if h.ID < 0 || h.ID >= len(outs) {
			strays++
			continue
		}
		at[h.ID] = h.At.Sub(run.Start)
	}
	for id, o := range outs {
		if o.Status < 200 || o.Status > 299 {
			continue
		}
		a, ok := at[id]
		if !ok {
			unseen++
			continue
		}
		adm = append(adm, admit{ID: id, Sent: o.Sent, At: a})
	}
	sort.Slice(adm, func(i, j int) bool { return adm[i].Sent < adm[j].Sent })
	return adm, unseen, strays
}

// clockMargin is shaved off every span: Redis decides by its TIME
// (gettimeofday), the test by its monotonic clock, and an NTP slew of at
// most 500 ppm moves them apart by a millisecond over a two-second window.
const clockMargin = 2 * time.Millisecond

// maxCertainlyWithin returns the largest number of admitted requests
// whose decisions all certainly fell within one interval [x, x+span): the
// requests with Sent >= x and At < x+span, over every x that is some
// request's Sent. A count above a limit is proof of over-admission,
// whatever the latencies were; latency can only hide some, never invent
// any. adm must be sorted by Sent.
func maxCertainlyWithin(adm []admit, span time.Duration) int {
	best := 0
	for j := range adm {
		end := adm[j].Sent + span - clockMargin
		n := 0
		for i := j; i < len(adm) && adm[i].Sent < end; i++ {
			if adm[i].At < end {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

// perWindow counts admissions by backend arrival in consecutive windows
// aligned to the first admission: [first + k*window, first + (k+1)*window).
// Only windows that end before the last arrival are complete; the last,
// partial one is left out. The counts are for the eye: arrival jitter can
// move an admission across a boundary, so they are not the proof.
func perWindow(adm []admit, window time.Duration) []int {
	if len(adm) == 0 {
		return nil
	}
	first, last := adm[0].At, adm[0].At
	for _, a := range adm {
		first, last = min(first, a.At), max(last, a.At)
	}
	counts := make([]int, int((last-first)/window))
	for _, a := range adm {
		if k := int((a.At - first) / window); k < len(counts) {
			counts[k]++
		}
	}
	return counts
}

// sentWithin keeps the records sent within [from, to).
func sentWithin[T interface{ sentAt() time.Duration }](records []T, from, to time.Duration) []T {
	var kept []T
	for _, r := range records {
		if at := r.sentAt(); at >= from && at < to {
			kept = append(kept, r)
		}
	}
	return kept
}

func (a admit) sentAt() time.Duration   { return a.Sent }
func (o outcome) sentAt() time.Duration { return o.Sent }

// verdict is a scenario's one-line summary: name, then key=value pairs.
type verdict struct {
	name  string
	pairs []string
}

// checkAdmissions fails t when a request was answered other than 200 or
// 429, or when the backend's record and the clients' 2xx answers disagree.
func checkAdmissions(t *testing.T, tl tally, unseen, strays int) {
	t.Helper()
	if bad := tl.only(200, 429); bad != 0 {
		t.Errorf("%d requests answered neither 200 nor 429: %s (first connection error: %s)", bad, tl, connErrText())
	}
	if unseen != 0 || strays != 0 {
		t.Errorf("%d 2xx answers the backend never saw, %d backend hits of unknown requests", unseen, strays)
	}
}

func (v *verdict) add(key string, value any) *verdict {
	v.pairs = append(v.pairs, fmt.Sprintf("%s=%v", key, value))
	return v
}

func (v *verdict) String() string {
	return fmt.Sprintf("VERDICT %-16s %s", v.name, strings.Join(v.pairs, " "))
}

// timing adds the send lag and latency percentiles of outs.
func (v *verdict) timing(outs []outcome) *verdict {
	v.pairs = append(v.pairs, lagAndLatency(outs))
	return v
}
