package pool

import (
	"slices"
	"sync"
	"testing"
)

func TestRoundRobinCycles(t *testing.T) {
	ins := testInstances(3)
	rr := newRoundRobin(ins)
	start := slices.Index(ins, rr.pick(0, nil))
	for i := 1; i < 9; i++ {
		if got, want := rr.pick(0, nil), ins[(start+i)%3]; got != want {
			t.Fatalf("pick %d: %s, want %s", i, got.addr, want.addr)
		}
	}
}

// TestSmoothSchedule checks the cycle of weighted round robin: each
// instance as often as its weight, reduced by the weights' common divisor,
// and a heavy instance's turns spread out rather than bunched.
func TestSmoothSchedule(t *testing.T) {
	name := func(sched []*Instance, ins []*Instance) string {
		b := make([]byte, len(sched))
		for i, in := range sched {
			b[i] = 'a' + byte(slices.Index(ins, in))
		}
		return string(b)
	}
	tests := []struct {
		weights []int32
		want    string
	}{
		{[]int32{1, 1, 1}, "abc"},
		{[]int32{5, 5, 5}, "abc"},
		{[]int32{5, 1, 1}, "aaabcaa"},
		{[]int32{1, 2, 3}, "cbacbc"},
		{[]int32{3, 2, 1}, "abacba"},
		{[]int32{2, 4}, "bab"},
		{[]int32{3, 1}, "aaba"},
	}
	for _, tt := range tests {
		ins := testInstances(len(tt.weights))
		for i, w := range tt.weights {
			ins[i].weight.Store(w)
		}
		if got := name(smoothSchedule(ins), ins); got != tt.want {
			t.Errorf("weights %v: schedule %q, want %q", tt.weights, got, tt.want)
		}
	}
}

// TestSmoothScheduleScalesHugeWeights checks that weights summing past
// maxSchedule are scaled down in proportion, each to at least 1.
func TestSmoothScheduleScalesHugeWeights(t *testing.T) {
	ins := testInstances(4)
	for i, w := range []int32{MaxWeight, MaxWeight, MaxWeight / 2, 1} {
		ins[i].weight.Store(w)
	}
	sched := smoothSchedule(ins)
	if len(sched) > maxSchedule+len(ins) {
		t.Fatalf("schedule of %d turns, want at most about %d", len(sched), maxSchedule)
	}
	counts := make([]int, len(ins))
	for _, in := range sched {
		counts[slices.Index(ins, in)]++
	}
	if counts[0] != counts[1] || counts[2] < counts[0]/2-1 || counts[2] > counts[0]/2+1 || counts[3] != 1 {
		t.Errorf("turns %v, want proportional to 2:2:1 and 1 for the lightest", counts)
	}
}

// TestRoundRobinConcurrentPicksAreEven checks that concurrent picks still
// take turns: every pick claims one value of the shared counter, so any
// multiple of the cycle hits every instance in proportion, however
// interleaved.
func TestRoundRobinConcurrentPicksAreEven(t *testing.T) {
	const n, goroutines, perGoroutine = 3, 8, 6000
	ins := testInstances(n)
	for i := range ins {
		ins[i].weight.Store(int32(i + 1))
	}
	index := make(map[*Instance]int, n)
	for i, in := range ins {
		index[in] = i
	}
	rr := newRoundRobin(ins)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total [n]int
	)
	for range goroutines {
		wg.Go(func() {
			var local [n]int
			for range perGoroutine {
				local[index[rr.pick(0, nil)]]++
			}
			mu.Lock()
			for i, c := range local {
				total[i] += c
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	for i, c := range total {
		if want := goroutines * perGoroutine * (i + 1) / 6; c != want {
			t.Errorf("instance %d of weight %d picked %d times, want %d", i, i+1, c, want)
		}
	}
}

// TestWeightedRoundRobinService sends requests through a service whose
// instances weigh 1, 2 and 3: the backends see them in that proportion,
// exactly, over whole cycles.
func TestWeightedRoundRobinService(t *testing.T) {
	var backends []*backend
	weights := map[string]int{}
	for i := range 3 {
		b := startBackend(t, ok)
		backends = append(backends, b)
		weights[b.addr] = i + 1
	}
	s := newTestService(t, Options{
		Instances: []string{backends[0].addr, backends[1].addr, backends[2].addr},
		Balancer:  BalancerRoundRobin,
		Weights:   weights,
	})
	for range 10 * 6 {
		if _, err := get(t, s, "/"); err != nil {
			t.Fatal(err)
		}
	}
	for i, b := range backends {
		b.assertHits(t, int64(10*(i+1)))
		if w := findInstance(s, b.addr).Weight(); w != i+1 {
			t.Errorf("Weight() = %d, want %d", w, i+1)
		}
	}
}
