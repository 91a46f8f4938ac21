package loadtest

import (
	"testing"
	"time"
)

// TestMaxCertainlyWithin pins the proof the limit scenarios rest on: it
// counts only admissions whose [Sent, At] spans fit one interval.
func TestMaxCertainlyWithin(t *testing.T) {
	ms := time.Millisecond
	adm := []admit{
		{Sent: 0, At: 5 * ms},
		{Sent: 10 * ms, At: 20 * ms},
		{Sent: 900 * ms, At: 990 * ms},
		// Sent inside the first second, but its arrival is not: it may
		// have been decided after the interval ended.
		{Sent: 950 * ms, At: 1100 * ms},
		{Sent: 1200 * ms, At: 1210 * ms},
	}
	cases := []struct {
		span time.Duration
		want int
	}{
		{time.Second, 3},        // [0, 1s): the first three; the fourth arrived after it
		{1200 * ms, 4},          // [0, 1.2s) holds the fourth too
		{1212 * ms, 4},          // the last arrival misses [0, 1.21s) by the clock margin
		{1213 * ms, 5},          // and fits [0, 1.211s)
		{12 * ms, 1},            // [0, 10ms): the second was sent at its end
		{25 * ms, 2},            // [0, 23ms) holds both early ones
		{2 * clockMargin, 0},    // no span is that short
		{6*ms + clockMargin, 1}, // the first alone
	}
	for _, c := range cases {
		if got := maxCertainlyWithin(adm, c.span); got != c.want {
			t.Errorf("span %v: %d, want %d", c.span, got, c.want)
		}
	}
}

// TestPerWindow checks the window table: aligned to the first arrival,
// the partial last window left out.
func TestPerWindow(t *testing.T) {
	s := time.Second
	adm := []admit{{At: s}, {At: s + 1}, {At: 2*s + 1}, {At: 3*s + 500*time.Millisecond}}
	got := perWindow(adm, s)
	if len(got) != 2 || got[0] != 2 || got[1] != 1 {
		t.Errorf("perWindow = %v, want [2 1]", got)
	}
}
