package limiter

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/edgegate/gateway/internal/redistest"
)

// A policy whose loop never ticks during a test: rounds run when the test
// calls Sync. 100 per 10h with a 1h interval gives a quantum of 10.
var manualHybrid = Policy{Name: "hy", Limit: 100, Window: 10 * time.Hour, Mode: Hybrid, SyncInterval: time.Hour}

func TestHybridBudgetAndSync(t *testing.T) {
	srv := redistest.Start(t)
	for _, alg := range []Algorithm{TokenBucket, SlidingWindow} {
		t.Run(alg.String(), func(t *testing.T) {
			p := manualHybrid
			p.Name += "-" + alg.String()
			p.Algorithm = alg
			a := newLimiter(t, p, Options{Redis: openConn(t, srv.Addr)})
			b := newLimiter(t, p, Options{Redis: openConn(t, srv.Addr)})
			key := []byte("k")

			// Before its first result an instance admits one quantum.
			for i := range 10 {
				if d := a.Allow(key); !d.Allowed || d.Remaining != 99-i {
					t.Fatalf("a, request %d: %+v", i, d)
				}
			}
			if d := a.Allow(key); d.Allowed || d.RetryAfter != time.Hour {
				t.Fatalf("a over its quantum: %+v, want refused until the next round in 1h", d)
			}
			mustSync(t, a)
			if d := a.Allow(key); !d.Allowed || d.Remaining != 89 {
				t.Fatalf("a after its report: %+v, want 89 left globally", d)
			}

			// b learns a's count from its first result.
			if n := drain(b, key, 10); n != 10 {
				t.Fatalf("b: %d admitted, want its quantum", n)
			}
			mustSync(t, b)
			if d := b.Allow(key); !d.Allowed || d.Remaining != 79 {
				t.Fatalf("b after its report: %+v, want 79 left (100 - 10 reported by a - 10 - 1)", d)
			}
			mustSync(t, a)
			mustSync(t, b)

			// Taking turns, they converge on the limit.
			total := 22
			for range 30 {
				total += drain(a, key, 20)
				mustSync(t, a)
				total += drain(b, key, 20)
				mustSync(t, b)
			}
			if total < 100 || total > 100+2*2*10 {
				t.Fatalf("two instances admitted %d in all, want 100 to %d", total, 100+2*2*10)
			}
			d := a.Allow(key)
			if d.Allowed || d.Remaining != 0 || d.RetryAfter <= 0 {
				t.Fatalf("after the limit: %+v, want refused", d)
			}
			if st := a.Stats(); st.Keys != 1 || st.RedisErrors != 0 || st.Admitted == 0 || st.Limited == 0 {
				t.Fatalf("a stats: %+v", st)
			}
		})
	}
}

func mustSync(t testing.TB, l *Limiter) {
	t.Helper()
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
}

// TestHybridThreeProcessesWithinBound runs three client processes with
// their own sync loops and checks the documented bound: at most 2 x
// instances x quantum over the strict limit, and the limit reached.
func TestHybridThreeProcessesWithinBound(t *testing.T) {
	srv := redistest.Start(t)
	const instances, limit, runFor = 3, 100, 1200 * time.Millisecond
	cases := []struct {
		alg    Algorithm
		window time.Duration
	}{
		// A fixed window of Redis time: the run starts just after one
		// begins and ends before it does, so the strict count is the limit.
		{SlidingWindow, 2 * time.Second},
		// 50 a second: a strict bucket admits at most 100 + 50 x 1.2s.
		{TokenBucket, 2 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.alg.String(), func(t *testing.T) {
			p := Policy{Name: "hyb-" + c.alg.String(), Algorithm: c.alg, Limit: limit, Window: c.window,
				Mode: Hybrid, SyncInterval: 50 * time.Millisecond}
			quantum := max((int64(limit)*int64(p.SyncInterval)+int64(c.window)-1)/int64(c.window), 1)
			bound := 2 * instances * int(quantum)
			start := time.Now().Add(1500 * time.Millisecond)
			if c.alg == SlidingWindow {
				start = start.Truncate(c.window).Add(c.window + 100*time.Millisecond)
			}
			res := runClients(t, instances, clientSpec{
				Addrs: []string{srv.Addr}, Policy: p, Keys: []string{"shared"},
				Start: start, Duration: runFor, Workers: 2, Pause: 200 * time.Microsecond,
			})
			got := res.Admitted["shared"]
			t.Logf("admitted %d, limit %d, bound +%d (quantum %d), refused %d", got, limit, bound, quantum, res.Refused)
			strict := limit
			if c.alg == TokenBucket {
				strict += int(int64(limit) * int64(runFor) / int64(c.window))
			}
			if got < limit || got > strict+bound || res.RedisErrors != 0 {
				t.Fatalf("admitted %d (redis errors %d), want %d to %d", got, res.RedisErrors, limit, strict+bound)
			}
		})
	}
}

// TestHybridClusterWithinBound runs three in-process limiters with their
// own cluster clients over keys spread across the cluster's nodes.
func TestHybridClusterWithinBound(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	const instances, limit = 3, 30
	p := Policy{Name: "hyc", Limit: limit, Window: time.Hour, Mode: Hybrid, SyncInterval: 20 * time.Millisecond}
	limiters := make([]*Limiter, instances)
	for i := range limiters {
		limiters[i] = newLimiter(t, p, Options{Redis: clusterConn(t, cluster), Timeout: time.Second, Log: zaptest.NewLogger(t)})
	}
	keys := make([]string, 6)
	nodes := map[string]bool{}
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
		nodes[clusterNodeOf(t, cluster, "rl:{hyc:"+keys[i]+"}")] = true
	}
	if len(nodes) < 2 {
		t.Fatalf("test keys all live on one node: %v", nodes)
	}
	// Hammer until every key has reached the limit, then a little longer
	// to catch over-admission.
	var mu sync.Mutex
	admitted := map[string]int{}
	reached := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, k := range keys {
			if admitted[k] < limit {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(20 * time.Second)
	var end atomic.Int64
	go func() {
		for !reached() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		end.Store(time.Now().Add(300 * time.Millisecond).UnixNano())
	}()
	running := func() bool {
		e := end.Load()
		return e == 0 || time.Now().UnixNano() < e
	}
	var wg sync.WaitGroup
	for _, l := range limiters {
		wg.Go(func() {
			for i := 0; running(); i++ {
				k := keys[i%len(keys)]
				if l.Allow([]byte(k)).Allowed {
					mu.Lock()
					admitted[k]++
					mu.Unlock()
				}
				time.Sleep(100 * time.Microsecond)
			}
		})
	}
	wg.Wait()
	bound := 2 * instances * 1 // quantum 1: 30 per hour over 20ms
	for _, k := range keys {
		if n := admitted[k]; n < limit || n > limit+bound {
			t.Errorf("key %s: %d admitted, want %d to %d", k, n, limit, limit+bound)
		}
	}
	for _, l := range limiters {
		if n := l.RedisErrors(); n != 0 {
			t.Errorf("%d Redis errors", n)
		}
	}
}

// TestHybridOutage stops Redis under hybrid limiters: fail_open limits
// locally at the full limit, fail_closed answers Unavailable, and after
// the restart the first successful round shares counts again.
func TestHybridOutage(t *testing.T) {
	srv := redistest.Start(t)
	p := manualHybrid
	p.Name = "hyo"
	a := newLimiter(t, p, Options{Redis: openConn(t, srv.Addr)})
	b := newLimiter(t, p, Options{Redis: openConn(t, srv.Addr)})
	closedPolicy := p
	closedPolicy.FailClosed = true
	closed := newLimiter(t, closedPolicy, Options{Redis: openConn(t, srv.Addr)})
	for _, l := range []*Limiter{a, b, closed} {
		drain(l, []byte("warm"), 1)
		mustSync(t, l)
	}

	srv.Stop()
	for _, l := range []*Limiter{a, closed} {
		drain(l, []byte("report"), 1)
		if err := l.Sync(); err == nil {
			t.Fatal("Sync succeeded with Redis stopped")
		}
	}
	if n := drain(a, []byte("during"), 150); n != 100 {
		t.Fatalf("fail_open during the outage: %d admitted, want the full limit 100", n)
	}
	if d := closed.Allow([]byte("during")); !d.Unavailable {
		t.Fatalf("fail_closed during the outage: %+v, want Unavailable", d)
	}
	if st := a.Stats(); st.Degraded != 150 || st.RedisErrors == 0 {
		t.Fatalf("stats during the outage: %+v", st)
	}

	srv.Restart()
	// Each limiter's first round after the restart may meet its dead
	// connection; the next redials.
	eventually(t, 10*time.Second, "sync succeeding after the restart", func() bool {
		ok := true
		for _, l := range []*Limiter{a, b, closed} {
			drain(l, []byte("probe"), 1)
			ok = l.Sync() == nil && ok
		}
		return ok
	})
	if d := closed.Allow([]byte("after")); !d.Allowed {
		t.Fatalf("fail_closed after recovery: %+v", d)
	}
	key := []byte("after")
	drain(a, key, 10)
	mustSync(t, a)
	drain(b, key, 1)
	mustSync(t, b)
	if d := b.Allow(key); !d.Allowed || d.Remaining != 88 {
		t.Fatalf("b after the restart: %+v, want a's ten counted (88 left)", d)
	}
}

// TestHybridCloseReportsPending checks that Close sends what was admitted
// since the last round: a reload closes the old limiters.
func TestHybridCloseReportsPending(t *testing.T) {
	srv := redistest.Start(t)
	p := manualHybrid
	p.Name = "hyclose"
	conn := openConn(t, srv.Addr)
	a := newLimiter(t, p, Options{Redis: conn})
	if n := drain(a, []byte("k"), 7); n != 7 {
		t.Fatalf("%d admitted, want 7", n)
	}
	a.Close()
	b := newLimiter(t, p, Options{Redis: conn})
	drain(b, []byte("k"), 1)
	mustSync(t, b)
	if d := b.Allow([]byte("k")); d.Remaining != 91 {
		t.Fatalf("after a's Close: %+v, want 91 left (100 - 7 - 1 - 1)", d)
	}
}

// TestHybridFloodBetweenRounds sends a flood of distinct keys between two
// rounds through a small table: the list of keys to report stays within
// twice the table's size, and a client that kept asking through the
// flood still has its admissions reported.
func TestHybridFloodBetweenRounds(t *testing.T) {
	srv := redistest.Start(t)
	p := manualHybrid
	p.Name = "hyflood"
	conn := openConn(t, srv.Addr)
	a := newLimiter(t, p, Options{Redis: conn, MaxKeys: minPerShard})
	regular := []byte("regular")
	if n := drain(a, regular, 5); n != 5 {
		t.Fatalf("%d admitted, want 5", n)
	}
	sh := &a.hybrid.t.shards[0]
	for i := range 10_000 {
		a.Allow(keyN(i))
		if i%10 == 0 {
			a.Allow(regular) // refused past its quantum, but asked
		}
		if len(sh.marked) > 2*int(sh.capacity)+1 {
			t.Fatalf("%d keys listed for the next round after %d flood keys, table of %d", len(sh.marked), i, sh.capacity)
		}
	}
	mustSync(t, a)
	b := newLimiter(t, p, Options{Redis: conn})
	drain(b, regular, 1)
	mustSync(t, b)
	// The regular client used its whole quantum of 10 at a.
	if d := b.Allow(regular); d.Remaining != 100-10-1-1 {
		t.Fatalf("after a's round: %+v, want %d left", d, 100-10-1-1)
	}
}
