package pool

import (
	"math"
	"strconv"
	"sync"
	"testing"
)

// testInstances returns n instances with the given in-flight counts (zero
// for missing ones). They have no connection pool: balancers need none.
func testInstances(n int, inFlight ...int64) []*Instance {
	ins := make([]*Instance, n)
	for i := range ins {
		ins[i] = &Instance{addr: "10.0.0." + strconv.Itoa(i) + ":80"}
		if i < len(inFlight) {
			ins[i].inFlight.Store(inFlight[i])
		}
	}
	return ins
}

func TestBalancersOnEmptyAndSingle(t *testing.T) {
	one := testInstances(1, 7)
	for _, b := range []Balancer{single{}, leastConn{}, new(roundRobin)} {
		if got := b.Pick(nil); got != nil {
			t.Errorf("%T.Pick(nil) = %v, want nil", b, got)
		}
		for range 3 {
			if got := b.Pick(one); got != one[0] {
				t.Errorf("%T.Pick(one instance) = %v", b, got)
			}
		}
	}
}

func TestLeastConnScanPicksExactMinimum(t *testing.T) {
	ins := testInstances(5, 4, 2, 9, 1, 3)
	for range 100 {
		if got := (leastConn{}).Pick(ins); got != ins[3] {
			t.Fatalf("picked %s with %d in flight, want %s with 1", got.addr, got.InFlight(), ins[3].addr)
		}
	}
}

// TestLeastConnScanSpreadsTies checks that instances tied at the minimum
// share the picks evenly and the others get none.
func TestLeastConnScanSpreadsTies(t *testing.T) {
	ins := testInstances(leastConnScanMax, 0, 5, 0, 5, 0, 5, 0)
	for i := 7; i < len(ins); i++ {
		ins[i].inFlight.Store(1)
	}
	const picks = 40000
	counts := map[*Instance]int{}
	for range picks {
		counts[(leastConn{}).Pick(ins)]++
	}
	tied := []*Instance{ins[0], ins[2], ins[4], ins[6]}
	want := float64(picks) / float64(len(tied))
	for _, in := range tied {
		if got := float64(counts[in]); math.Abs(got-want) > 0.1*want {
			t.Errorf("tied instance %s picked %v times, want about %v", in.addr, got, want)
		}
	}
	if sum := counts[ins[0]] + counts[ins[2]] + counts[ins[4]] + counts[ins[6]]; sum != picks {
		t.Errorf("instances above the minimum picked %d times, want never", picks-sum)
	}
}

// TestLeastConnPickTwo covers pools above leastConnScanMax, where Pick
// compares two random instances.
func TestLeastConnPickTwo(t *testing.T) {
	const n, picks = 100, 50000

	t.Run("never the most loaded", func(t *testing.T) {
		ins := testInstances(n)
		busiest := ins[42]
		busiest.inFlight.Store(100)
		for range picks {
			if (leastConn{}).Pick(ins) == busiest {
				t.Fatal("picked the instance more loaded than every other")
			}
		}
	})

	t.Run("favours the less loaded", func(t *testing.T) {
		// Half the instances are busy. One random choice would pick an idle
		// one half the time; the better of two, three times in four.
		ins := testInstances(n)
		for i := 0; i < n; i += 2 {
			ins[i].inFlight.Store(10)
		}
		idle := 0
		for range picks {
			if (leastConn{}).Pick(ins).InFlight() == 0 {
				idle++
			}
		}
		if share := float64(idle) / picks; share < 0.70 || share > 0.80 {
			t.Errorf("idle instances got %.3f of picks, want about 0.75", share)
		}
	})

	t.Run("reaches every instance", func(t *testing.T) {
		ins := testInstances(n)
		seen := map[*Instance]bool{}
		for range picks {
			seen[(leastConn{}).Pick(ins)] = true
		}
		if len(seen) != n {
			t.Errorf("%d of %d idle instances picked", len(seen), n)
		}
	})
}

func TestRoundRobinCycles(t *testing.T) {
	ins := testInstances(3)
	rr := new(roundRobin)
	for i := range 9 {
		if got, want := rr.Pick(ins), ins[i%3]; got != want {
			t.Fatalf("pick %d: %s, want %s", i, got.addr, want.addr)
		}
	}
}

// TestRoundRobinConcurrentPicksAreEven checks that concurrent picks still
// take turns: every Pick claims one value of the shared counter, so any
// multiple of n picks hits every instance equally, however interleaved.
func TestRoundRobinConcurrentPicksAreEven(t *testing.T) {
	const n, goroutines, perGoroutine = 7, 8, 7000
	ins := testInstances(n)
	index := make(map[*Instance]int, n)
	for i, in := range ins {
		index[in] = i
	}
	rr := new(roundRobin)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total [n]int
	)
	for range goroutines {
		wg.Go(func() {
			var local [n]int
			for range perGoroutine {
				local[index[rr.Pick(ins)]]++
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
		if want := goroutines * perGoroutine / n; c != want {
			t.Errorf("instance %d picked %d times, want %d", i, c, want)
		}
	}
}
