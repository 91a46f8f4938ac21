package pool

import (
	"math"
	"testing"
)

func TestLeastConnScanPicksExactMinimum(t *testing.T) {
	ins := testInstances(5, 4, 2, 9, 1, 3)
	lc := leastConn{ins}
	for range 100 {
		if got := lc.pick(0, nil); got != ins[3] {
			t.Fatalf("picked %s with %d in flight, want %s with 1", got.addr, got.InFlight(), ins[3].addr)
		}
	}
	// A retry takes the least loaded of those not tried.
	if got := lc.pick(0, ins[3:4]); got != ins[1] {
		t.Errorf("retry picked %s, want %s with 2 in flight", got.addr, ins[1].addr)
	}
}

// TestLeastConnScanSpreadsTies checks that instances tied at the minimum
// share the picks evenly and the others get none.
func TestLeastConnScanSpreadsTies(t *testing.T) {
	ins := testInstances(leastConnScanMax, 0, 5, 0, 5, 0, 5, 0)
	for i := 7; i < len(ins); i++ {
		ins[i].inFlight.Store(1)
	}
	lc := leastConn{ins}
	const picks = 40000
	counts := map[*Instance]int{}
	for range picks {
		counts[lc.pick(0, nil)]++
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

// TestLeastConnPickTwo covers pools above leastConnScanMax, where pick
// compares two random instances.
func TestLeastConnPickTwo(t *testing.T) {
	const n, picks = 100, 50000

	t.Run("never the most loaded", func(t *testing.T) {
		ins := testInstances(n)
		busiest := ins[42]
		busiest.inFlight.Store(100)
		for range picks {
			if (leastConn{ins}).pick(0, nil) == busiest {
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
			if (leastConn{ins}).pick(0, nil).InFlight() == 0 {
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
			seen[(leastConn{ins}).pick(0, nil)] = true
		}
		if len(seen) != n {
			t.Errorf("%d of %d idle instances picked", len(seen), n)
		}
	})
}
