package limiter

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/edgegate/gateway/internal/redisconn"
	"github.com/edgegate/gateway/internal/redistest"
)

func TestRedisSlidingLogWindowBoundary(t *testing.T) {
	srv := redistest.Start(t)
	// The requests are spaced far apart so that the first one's leaving
	// the window can be watched without the second's following it: the
	// refusal cache reads the coarse clock, which a starved machine (a
	// whole test suite under -race on two cores) delays by milliseconds.
	const window, spacing = 400 * time.Millisecond, 100 * time.Millisecond
	l := newLimiter(t, Policy{Name: "log", Algorithm: SlidingWindow, Limit: 3, Window: window, Mode: Redis},
		Options{Redis: openConn(t, srv.Addr), Timeout: time.Second})
	key := []byte("c1")

	// Redis stamps the first request somewhere between these two.
	firstSent := time.Now()
	var firstDone time.Time
	for i := range 3 {
		d := l.Allow(key)
		if i == 0 {
			firstDone = time.Now()
		}
		if !d.Allowed || d.Remaining != 2-i || d.Reset != window {
			t.Fatalf("request %d: %+v, want admitted, %d remaining, reset %v", i, d, 2-i, window)
		}
		time.Sleep(spacing)
	}
	sent := time.Now()
	d := l.Allow(key)
	done := time.Now()
	if d.Allowed || d.Remaining != 0 {
		t.Fatalf("4th: %+v, want refused", d)
	}
	// The first request leaves when its age reaches the window.
	lo, hi := firstSent.Add(window).Sub(done), firstDone.Add(window).Sub(sent)
	if d.RetryAfter < lo-time.Millisecond || d.RetryAfter > hi+time.Millisecond {
		t.Fatalf("4th: RetryAfter %v, want between %v and %v", d.RetryAfter, lo, hi)
	}

	// Refused requests are not recorded: hammering past the limit leaves
	// the log at three entries.
	for range 50 {
		if l.Allow(key).Allowed {
			t.Fatal("admitted over the limit")
		}
	}
	if n, err := srv.Do("ZCARD", "rl:{log:c1}"); err != nil || n != "3" {
		t.Fatalf("ZCARD = %q, %v: want the 3 admitted requests only", n, err)
	}

	// Once the first request's age passes the window, exactly one slot is
	// free: the first admission after it leaves none remaining. It comes
	// within a few ticks of the coarse clock, well before the second
	// request ages out.
	time.Sleep(time.Until(firstDone.Add(window)))
	for deadline := firstDone.Add(window + spacing/2); ; time.Sleep(time.Millisecond) {
		if d = l.Allow(key); d.Allowed || time.Now().After(deadline) {
			break
		}
	}
	if !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after the first aged out: %+v, want one admitted", d)
	}
	if d := l.Allow(key); d.Allowed {
		t.Fatalf("second after the first aged out: %+v, want refused", d)
	}
	// A client that kept trying recovers fully one window after its last
	// admitted request.
	time.Sleep(window + spacing/2)
	if n := drain(l, key, 5); n != 3 {
		t.Fatalf("a window later: %d admitted, want 3", n)
	}
}

func TestRedisTokenBucketRefillsAtRate(t *testing.T) {
	srv := redistest.Start(t)
	// 5 per 500ms: a token every 100ms.
	l := newLimiter(t, Policy{Name: "tb", Limit: 5, Window: 500 * time.Millisecond, Mode: Redis},
		Options{Redis: openConn(t, srv.Addr), Timeout: time.Second})
	key := []byte("c1")
	for i := range 5 {
		if d := l.Allow(key); !d.Allowed || d.Remaining != 4-i {
			t.Fatalf("request %d: %+v", i, d)
		}
	}
	d := l.Allow(key)
	if d.Allowed || d.RetryAfter <= 50*time.Millisecond || d.RetryAfter > 100*time.Millisecond {
		t.Fatalf("6th: %+v, want refused with RetryAfter up to 100ms", d)
	}
	if d.Reset <= 400*time.Millisecond || d.Reset > 500*time.Millisecond {
		t.Fatalf("6th: Reset %v, want the time to refill about five tokens", d.Reset)
	}
	for range 20 {
		if l.Allow(key).Allowed {
			t.Fatal("admitted before a token was due")
		}
	}
	time.Sleep(d.RetryAfter + 5*time.Millisecond)
	if d := l.Allow(key); !d.Allowed {
		t.Fatalf("after RetryAfter: %+v, want admitted", d)
	}
	if d := l.Allow(key); d.Allowed {
		t.Fatalf("two admitted for one token: %+v", d)
	}
	// Refused requests took nothing: a full window refills the bucket.
	time.Sleep(550 * time.Millisecond)
	if n := drain(l, key, 10); n != 5 {
		t.Fatalf("a window later: %d admitted, want 5", n)
	}
	level, err := srv.Do("HGET", "rl:{tb:c1}", "tokens")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := strconv.ParseFloat(level, 64); err != nil || v >= 500_000 {
		t.Fatalf("tokens = %q: want less than one token (500000 units) left", level)
	}
}

// TestRedisThreeProcessesAdmitExactlyTheLimit runs three client
// processes, each with its own Redis client, against one key.
func TestRedisThreeProcessesAdmitExactlyTheLimit(t *testing.T) {
	srv := redistest.Start(t)
	for _, alg := range []Algorithm{TokenBucket, SlidingWindow} {
		t.Run(alg.String(), func(t *testing.T) {
			// A long window: the bucket refills 0.03 of a token during the
			// run, and the log keeps everything.
			res := runClients(t, 3, clientSpec{
				Addrs:    []string{srv.Addr},
				Policy:   Policy{Name: "exact-" + alg.String(), Algorithm: alg, Limit: 200, Window: time.Hour, Mode: Redis},
				Keys:     []string{"shared"},
				Start:    time.Now().Add(1500 * time.Millisecond),
				Duration: 500 * time.Millisecond,
				Workers:  4,
			})
			if got := res.Admitted["shared"]; got != 200 || res.Refused == 0 || res.RedisErrors != 0 {
				t.Fatalf("admitted %d (refused %d, redis errors %d), want exactly 200", got, res.Refused, res.RedisErrors)
			}
		})
	}
}

// TestRedisClusterAdmitsExactlyTheLimit runs three limiters with separate
// clients on a three-node cluster, over keys spread across its nodes.
func TestRedisClusterAdmitsExactlyTheLimit(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	keys := make([]string, 8)
	nodes := map[string]bool{}
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
		nodes[clusterNodeOf(t, cluster, "rl:{cl:"+keys[i]+"}")] = true
	}
	if len(nodes) < 2 {
		t.Fatalf("test keys all live on one node: %v", nodes)
	}
	for _, alg := range []Algorithm{TokenBucket, SlidingWindow} {
		t.Run(alg.String(), func(t *testing.T) {
			p := Policy{Name: "cl", Algorithm: alg, Limit: 40, Window: time.Hour, Mode: Redis}
			limiters := make([]*Limiter, 3)
			for i := range limiters {
				limiters[i] = newLimiter(t, p, Options{Redis: clusterConn(t, cluster), Timeout: time.Second})
			}
			for _, k := range keys {
				if _, err := cluster.Nodes[0].Do("DEL", "rl:{cl:"+k+"}"); err != nil && !isMoved(err) {
					t.Fatal(err)
				}
			}
			var mu sync.Mutex
			admitted := map[string]int{}
			var wg sync.WaitGroup
			for _, l := range limiters {
				for w := range 3 {
					wg.Go(func() {
						for i := range 200 {
							k := keys[(i+w)%len(keys)]
							if l.Allow([]byte(k)).Allowed {
								mu.Lock()
								admitted[k]++
								mu.Unlock()
							}
						}
					})
				}
			}
			wg.Wait()
			for _, k := range keys {
				if admitted[k] != 40 {
					t.Errorf("key %s: %d admitted, want 40", k, admitted[k])
				}
			}
			for _, l := range limiters {
				if n := l.RedisErrors(); n != 0 {
					t.Errorf("%d Redis errors", n)
				}
			}
		})
	}
}

// clusterConn opens a separate cluster client for one limiter.
func clusterConn(t testing.TB, c *redistest.Cluster) *redisconn.Conn {
	t.Helper()
	client, err := rueidis.NewClient(redisconn.ClientOption(redisconn.Options{Addrs: c.Addrs()}))
	if err != nil {
		t.Fatal(err)
	}
	conn := redisconn.Static(client)
	t.Cleanup(conn.Close)
	return conn
}

// clusterNodeOf returns the address of the node serving key.
func clusterNodeOf(t testing.TB, c *redistest.Cluster, key string) string {
	t.Helper()
	for _, n := range c.Nodes {
		_, err := n.Do("TYPE", key)
		if err == nil {
			return n.Addr
		}
		if !isMoved(err) {
			t.Fatal(err)
		}
	}
	t.Fatalf("no node serves %s", key)
	return ""
}

func isMoved(err error) bool {
	return err != nil && len(err.Error()) > 13 && err.Error()[:13] == "redis: MOVED "
}

// TestRedisOutage stops Redis under two limiters of one policy: fail_open
// keeps limiting per instance at the same limit, fail_closed answers
// Unavailable, and after the restart the limiters share counts again.
func TestRedisOutage(t *testing.T) {
	for _, alg := range []Algorithm{TokenBucket, SlidingWindow} {
		t.Run(alg.String(), func(t *testing.T) {
			srv := redistest.Start(t)
			p := Policy{Name: "out", Algorithm: alg, Limit: 5, Window: time.Hour, Mode: Redis}
			opts := func() Options {
				return Options{Redis: openConn(t, srv.Addr), Timeout: 200 * time.Millisecond, ProbeEvery: 50 * time.Millisecond}
			}
			a, b := newLimiter(t, p, opts()), newLimiter(t, p, opts())
			closedPolicy := p
			closedPolicy.FailClosed = true
			closed := newLimiter(t, closedPolicy, opts())

			if n := drain(a, []byte("before"), 3) + drain(b, []byte("before"), 3); n != 5 {
				t.Fatalf("shared before the outage: %d admitted, want 5", n)
			}

			srv.Stop()
			if n := drain(a, []byte("during"), 8); n != 5 {
				t.Fatalf("fail_open during the outage: %d admitted, want the limit 5", n)
			}
			if d := a.Allow([]byte("during")); d.Allowed || d.Unavailable || d.RetryAfter <= 0 {
				t.Fatalf("fail_open over the limit: %+v, want a plain refusal", d)
			}
			for range 3 {
				if d := closed.Allow([]byte("during")); !d.Unavailable || d.Allowed {
					t.Fatalf("fail_closed during the outage: %+v, want Unavailable", d)
				}
			}
			st := a.Stats()
			if st.RedisErrors == 0 || st.Degraded < 8 {
				t.Fatalf("stats during the outage: %+v, want errors and degraded decisions", st)
			}
			if st := closed.Stats(); st.Unavailable < 3 {
				t.Fatalf("fail_closed stats: %+v", st)
			}

			srv.Restart()
			start := time.Now()
			round := 0
			eventually(t, 10*time.Second, "counts shared again after the restart", func() bool {
				round++
				k := keyN(round)
				// Shared: five between the two, not five each.
				return drain(a, k, 3)+drain(b, k, 3) == 5
			})
			t.Logf("shared again %v after the restart", time.Since(start))
			eventually(t, 10*time.Second, "fail_closed answering again", func() bool {
				return !closed.Allow([]byte("fresh")).Unavailable
			})
		})
	}
}

// TestRedisSlowAnswerFails pauses Redis past the Timeout: decisions come
// back in bounded time, per on_error.
func TestRedisSlowAnswerFails(t *testing.T) {
	srv := redistest.Start(t)
	conn := openConn(t, srv.Addr)
	p := Policy{Name: "slow", Limit: 5, Window: time.Hour, Mode: Redis, FailClosed: true}
	l := newLimiter(t, p, Options{Redis: conn, Timeout: 50 * time.Millisecond, ProbeEvery: time.Hour})
	if d := l.Allow([]byte("k")); !d.Allowed {
		t.Fatalf("before the pause: %+v", d)
	}
	if _, err := srv.Do("CLIENT", "PAUSE", "1000", "ALL"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d := l.Allow([]byte("k"))
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Fatalf("Allow took %v with Redis paused, want about the 50ms timeout", took)
	}
	if !d.Unavailable {
		t.Fatalf("fail_closed with Redis paused: %+v, want Unavailable", d)
	}
	// Until the next probe, requests do not wait on Redis at all.
	start = time.Now()
	for range 100 {
		l.Allow([]byte("k"))
	}
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Fatalf("100 requests took %v while Redis is known down", took)
	}
	if n := l.RedisErrors(); n != 1 {
		t.Fatalf("RedisErrors %d, want 1: one call timed out, the rest did not try", n)
	}
}

// TestRedisRefusalsAreCachedLocally checks that a key Redis refused is
// refused without a round trip until its RetryAfter.
func TestRedisRefusalsAreCachedLocally(t *testing.T) {
	srv := redistest.Start(t)
	l := newLimiter(t, Policy{Name: "cache", Limit: 2, Window: time.Hour, Mode: Redis},
		Options{Redis: openConn(t, srv.Addr), Timeout: time.Second})
	drain(l, []byte("k"), 3) // two admitted, one refused by Redis
	before, err := srv.Do("INFO", "commandstats")
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if d := l.Allow([]byte("k")); d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > time.Hour/2 {
			t.Fatalf("cached refusal: %+v", d)
		}
	}
	after, _ := srv.Do("INFO", "commandstats")
	if evalCalls(before) != evalCalls(after) {
		t.Fatalf("refusals reached Redis: evalsha calls %d -> %d", evalCalls(before), evalCalls(after))
	}
	if st := l.Stats(); st.Admitted != 2 || st.Limited != 101 {
		t.Fatalf("stats %+v, want 2 admitted and 101 limited", st)
	}
}

// evalCalls reads the EVALSHA call count from INFO commandstats.
func evalCalls(info string) int {
	var calls int
	for _, line := range splitLines(info) {
		if _, err := fmt.Sscanf(line, "cmdstat_evalsha:calls=%d", &calls); err == nil {
			return calls
		}
	}
	return 0
}

func splitLines(s string) []string {
	var lines []string
	start := 0
	for i := range len(s) {
		if s[i] == '\n' {
			lines = append(lines, s[start:i])
			start = i + 1
		}
	}
	return append(lines, s[start:])
}

// TestSkewedClocksAgree gives two limiters clocks two hours apart: Redis
// time decides, so in redis and hybrid modes they share one count.
func TestSkewedClocksAgree(t *testing.T) {
	srv := redistest.Start(t)
	ahead := func() time.Time { return time.Now().Add(time.Hour) }
	behind := func() time.Time { return time.Now().Add(-time.Hour) }
	for _, mode := range []Mode{Redis, Hybrid} {
		for _, alg := range []Algorithm{TokenBucket, SlidingWindow} {
			p := Policy{Name: "skew-" + mode.String() + "-" + alg.String(), Algorithm: alg, Limit: 10, Window: 10 * time.Hour,
				Mode: mode, SyncInterval: time.Hour}
			a := newLimiter(t, p, Options{Redis: openConn(t, srv.Addr), Now: ahead, Timeout: time.Second})
			b := newLimiter(t, p, Options{Redis: openConn(t, srv.Addr), Now: behind, Timeout: time.Second})
			n := 0
			for range 12 {
				n += drain(a, []byte("k"), 4)
				mustSync(t, a)
				n += drain(b, []byte("k"), 4)
				mustSync(t, b)
			}
			// Hybrid may exceed by its bound: 2 instances x 2 x quantum 1.
			if n < 10 || (mode == Redis && n != 10) || n > 10+4 {
				t.Errorf("%s %s: %d admitted between clocks two hours apart, want 10", mode, alg, n)
			}
		}
	}
}
