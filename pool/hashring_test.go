package pool

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// ringKeys returns n keys as HashOn.Key makes them.
func ringKeys(n int) []uint64 {
	keys := make([]uint64, n)
	for i := range keys {
		keys[i] = fmix64(fnv1aString(fnvOffset, fmt.Sprintf("user-%d", i)))
	}
	return keys
}

// owners returns the address each key maps to on a ring over ins.
func owners(ins []*Instance, keys []uint64) []string {
	r := newHashRing(ins)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = r.pick(k, nil).addr
	}
	return out
}

func TestHashRingIsStableAcrossBuilds(t *testing.T) {
	keys := ringKeys(1000)
	a := owners(testInstances(10), keys)
	// New instances, same addresses, in another order: another gateway.
	ins := testInstances(10)
	rand.Shuffle(len(ins), func(i, j int) { ins[i], ins[j] = ins[j], ins[i] })
	b := owners(ins, keys)
	for i := range keys {
		if a[i] != b[i] {
			t.Fatalf("key %d: %s on one ring, %s on another over the same addresses", i, a[i], b[i])
		}
	}
}

func TestHashRingSpreadsKeys(t *testing.T) {
	const n, keys = 10, 10000
	counts := map[string]int{}
	for _, addr := range owners(testInstances(n), ringKeys(keys)) {
		counts[addr]++
	}
	if len(counts) != n {
		t.Fatalf("%d of %d instances own keys", len(counts), n)
	}
	for addr, c := range counts {
		if c < keys/n/2 || c > keys/n*3/2 {
			t.Errorf("%s owns %d keys, want within half of %d", addr, c, keys/n)
		}
	}
}

// TestHashRingRemapsOnlyTheLeaversKeys removes one of 10 instances: about a
// tenth of the keys move, all of them the leaver's, and no other key moves.
// Adding it back returns exactly those keys.
func TestHashRingRemapsOnlyTheLeaversKeys(t *testing.T) {
	const n = 10
	keys := ringKeys(10000)
	ins := testInstances(n)
	before := owners(ins, keys)

	for leaver := range n {
		rest := append(append([]*Instance(nil), ins[:leaver]...), ins[leaver+1:]...)
		after := owners(rest, keys)
		moved := 0
		for i := range keys {
			switch {
			case before[i] == ins[leaver].addr:
				moved++
			case after[i] != before[i]:
				t.Fatalf("removing %s moved key %d from %s to %s", ins[leaver].addr, i, before[i], after[i])
			}
		}
		if share := float64(moved) / float64(len(keys)); share == 0 || share >= 2.0/n {
			t.Errorf("removing %s moved %.3f of keys, want about %.3f and under %.3f", ins[leaver].addr, share, 1.0/n, 2.0/n)
		}
	}
	again := owners(ins, keys)
	for i := range keys {
		if again[i] != before[i] {
			t.Fatalf("key %d on %s after the instance came back, was on %s", i, again[i], before[i])
		}
	}
}

func TestHashRingWithoutKeyUsesLeastConn(t *testing.T) {
	ins := testInstances(3, 5, 0, 5)
	r := newHashRing(ins)
	for range 100 {
		if got := r.pick(0, nil); got != ins[1] {
			t.Fatalf("keyless pick went to %s with %d in flight, want the idle %s", got.addr, got.InFlight(), ins[1].addr)
		}
	}
}

// TestConsistentHashService checks a service end to end: requests with one
// key reach one backend; keys spread over all backends; requests without a
// key are balanced anyway.
func TestConsistentHashService(t *testing.T) {
	var addrs []string
	backends := map[string]*backend{}
	for range 3 {
		b := startBackend(t, ok)
		addrs = append(addrs, b.addr)
		backends[b.addr] = b
	}
	s := newTestService(t, Options{Instances: addrs, Balancer: BalancerConsistentHash, HashOn: "header:X-Client-ID"})
	req := newRequest(t, fasthttp.MethodGet, "/")
	resp := newResponse(t)

	seen := map[string]bool{}
	for client := range 30 {
		req.Header.Set("X-Client-ID", fmt.Sprintf("client-%d", client))
		key := s.HashKey(req, nil)
		var first string
		for range 5 {
			in, err := s.Do(req, resp, time.Time{}, key)
			if err != nil {
				t.Fatal(err)
			}
			if first == "" {
				first = in.Addr()
			} else if in.Addr() != first {
				t.Fatalf("client %d went to %s, then %s", client, first, in.Addr())
			}
		}
		seen[first] = true
	}
	if len(seen) != len(addrs) {
		t.Errorf("30 clients reached %d of %d instances", len(seen), len(addrs))
	}

	req.Header.Del("X-Client-ID")
	if key := s.HashKey(req, nil); key != 0 {
		t.Fatalf("HashKey without the header = %#x, want 0", key)
	}
	for range 10 {
		if _, err := s.Do(req, resp, time.Time{}, 0); err != nil {
			t.Fatal(err)
		}
	}
	var total int64
	for _, b := range backends {
		total += b.hits.Load()
	}
	if total != 30*5+10 {
		t.Errorf("backends saw %d requests, want %d", total, 30*5+10)
	}
	assertInFlightZero(t, s)
}

func TestRadixSortIsStableAndSorted(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pts := make([]ringEntry, 5000)
	for i := range pts {
		// Few distinct hashes, so that stability shows.
		pts[i] = ringEntry{r.Uint64() & 0xff000000000000ff, uint32(i)}
	}
	want := slices.Clone(pts)
	slices.SortStableFunc(want, func(a, b ringEntry) int { return cmp.Compare(a.hash, b.hash) })
	got := radixSort(pts, make([]ringEntry, len(pts)))
	if !slices.Equal(got, want) {
		t.Error("radix sort differs from a stable sort by hash")
	}
}
