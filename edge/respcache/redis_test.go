package respcache

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgegate/gateway/internal/redisconn"
	"github.com/edgegate/gateway/internal/redistest"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// openRedis connects to addrs as the gateway does, closing at the end.
func openRedis(t *testing.T, addrs ...string) *redisconn.Conn {
	t.Helper()
	conn, err := redisconn.Open(redisconn.Options{Addrs: addrs, DialTimeout: time.Second, RetryEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// countingFill answers with body and counts its calls.
func countingFill(calls *atomic.Int32, body string) func(*fasthttp.Response) error {
	return func(resp *fasthttp.Response) error {
		calls.Add(1)
		backend(200, body, "ETag", `"`+body+`"`).CopyTo(resp)
		return nil
	}
}

var errMustNotFill = errors.New("fill called although the entry was in Redis")

func mustNotFill(*fasthttp.Response) error { return errMustNotFill }

// testSharedTier has instance A fill and instance B, with its own memory
// and its own Redis client, answer from Redis without calling the backend.
func testSharedTier(t *testing.T, addrs []string) {
	clock := newTestClock()
	a := New(Options{Redis: openRedis(t, addrs...), Now: clock.Now, RedisTimeout: time.Second})
	b := New(Options{Redis: openRedis(t, addrs...), Now: clock.Now, RedisTimeout: time.Second})
	r := testRule(time.Minute)

	for i := range 5 {
		k := key("/shared/" + strconv.Itoa(i))
		var calls atomic.Int32
		if o, err := a.Do(k, r, &fasthttp.Response{}, countingFill(&calls, "v"+strconv.Itoa(i))); o != Miss || err != nil || calls.Load() != 1 {
			t.Fatalf("A: %s, %v, %d fills", o, err, calls.Load())
		}
		clock.Advance(3 * time.Second)
		resp := &fasthttp.Response{}
		o, err := b.Do(k, r, resp, mustNotFill)
		if o != RemoteHit || err != nil {
			t.Fatalf("B: %s, %v; want a hit from Redis", o, err)
		}
		if string(resp.Body()) != "v"+strconv.Itoa(i) || header(resp, "ETag") != `"v`+strconv.Itoa(i)+`"` ||
			header(resp, "X-Cache") != "HIT" || header(resp, "Age") != "3" {
			t.Errorf("B: body %q ETag %q X-Cache %q Age %q", resp.Body(), header(resp, "ETag"), header(resp, "X-Cache"), header(resp, "Age"))
		}
		// B now has it in memory.
		if o, err := b.Do(k, r, &fasthttp.Response{}, mustNotFill); o != Hit || err != nil {
			t.Errorf("B again: %s, %v; want a local hit", o, err)
		}
	}
	if st := b.Stats(); st.RemoteHits != 5 || st.Fills != 0 || st.RedisErrors != 0 {
		t.Errorf("B stats %+v", st)
	}
	if st := a.Stats(); st.Fills != 5 || st.RedisErrors != 0 {
		t.Errorf("A stats %+v", st)
	}
}

func TestRedisTierShared(t *testing.T) {
	srv := redistest.Start(t)
	testSharedTier(t, []string{srv.Addr})

	// The value lives under the documented key, expiring with the entry.
	pttl, err := srv.Do("PTTL", redisKey(key("/shared/0")))
	if err != nil {
		t.Fatal(err)
	}
	if ms, _ := strconv.Atoi(pttl); ms <= 0 || ms > 60_000 {
		t.Errorf("PTTL %s, want within the 1m ttl", pttl)
	}
}

func TestRedisTierCluster(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	testSharedTier(t, cluster.Addrs())
}

func TestRedisKey(t *testing.T) {
	k := redisKey(key("/x"))
	if len(k) != len("cache:{")+32+1 || k[:7] != "cache:{" || k[len(k)-1] != '}' {
		t.Errorf("redisKey = %q", k)
	}
	if redisKey(key("/y")) == k {
		t.Error("two keys share a Redis key")
	}
}

// TestRedisIgnoresForeignValues: what Redis holds is read as a miss unless
// it is an entry of this format for exactly this key.
func TestRedisIgnoresForeignValues(t *testing.T) {
	srv := redistest.Start(t)
	clock := newTestClock()
	c := New(Options{Redis: openRedis(t, srv.Addr), Now: clock.Now, RedisTimeout: time.Second})
	now := clock.Now()
	other := encode(key("/other"), 200, now, now.Add(time.Hour), 0, nil, []byte("other"), clock.Now)
	expired := encode(key("/expired"), 200, now.Add(-time.Hour), now.Add(-time.Second), 0, nil, []byte("old"), clock.Now)
	for name, value := range map[string]string{
		"/garbage":  "not an entry",
		"/empty":    "",
		"/version9": "\x09rest",
		"/other":    string(other.raw),
		"/expired":  string(expired.raw),
	} {
		k := key(name)
		if name == "/other" {
			k = key("/collides")
		}
		if _, err := srv.Do("SET", redisKey(k), value); err != nil {
			t.Fatal(err)
		}
		var calls atomic.Int32
		resp := &fasthttp.Response{}
		if o, err := c.Do(k, testRule(time.Minute), resp, countingFill(&calls, "fresh")); o != Miss || err != nil || calls.Load() != 1 {
			t.Errorf("%s: %s, %v, %d fills; want a miss", name, o, err, calls.Load())
		}
		if string(resp.Body()) != "fresh" {
			t.Errorf("%s: body %q", name, resp.Body())
		}
	}
	if n := c.Stats().RedisErrors; n != 0 {
		t.Errorf("%d Redis errors counted for values that are merely foreign", n)
	}
}

// TestRedisDownDegrades stops Redis under a running cache: requests keep
// being answered from the backend and from memory, errors are counted and
// logged once, and the tier comes back with Redis.
func TestRedisDownDegrades(t *testing.T) {
	srv := redistest.Start(t)
	core, logs := observer.New(zap.InfoLevel)
	clock := newTestClock()
	c := New(Options{Redis: openRedis(t, srv.Addr), Now: clock.Now, RedisTimeout: time.Second, Log: zap.New(core)})
	r := testRule(time.Minute)

	srv.Stop()
	for i := range 3 {
		var calls atomic.Int32
		k := key("/down/" + strconv.Itoa(i))
		if o, err := c.Do(k, r, &fasthttp.Response{}, countingFill(&calls, "v")); o != Miss || err != nil || calls.Load() != 1 {
			t.Fatalf("with Redis down: %s, %v, %d fills", o, err, calls.Load())
		}
		if o, err := c.Do(k, r, &fasthttp.Response{}, mustNotFill); o != Hit || err != nil {
			t.Fatalf("with Redis down, second request: %s, %v; want a local hit", o, err)
		}
	}
	if n := c.Stats().RedisErrors; n < 3 {
		t.Errorf("%d Redis errors counted, want at least one per miss", n)
	}
	if n := logs.FilterMessageSnippet("failing").Len(); n != 1 {
		t.Errorf("outage logged %d times, want once", n)
	}

	srv.Restart()
	// rueidis reconnects on use; the first calls after the restart may
	// still fail on the dead connection.
	stored := false
	for i := 0; i < 50 && !stored; i++ {
		k := key("/up/" + strconv.Itoa(i))
		var calls atomic.Int32
		if _, err := c.Do(k, r, &fasthttp.Response{}, countingFill(&calls, "v")); err != nil {
			t.Fatal(err)
		}
		n, err := srv.Do("EXISTS", redisKey(k))
		stored = err == nil && n == "1"
		if !stored {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !stored {
		t.Fatal("entries not written to Redis after it came back")
	}
	if n := logs.FilterMessageSnippet("answering again").Len(); n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}
}

// TestRedisNeverReached: a gateway started while Redis is unreachable
// caches locally and counts the tier as failing.
func TestRedisNeverReached(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	conn := openRedis(t, addr)
	if _, ok := conn.Client(); ok {
		t.Fatalf("a client for the closed port %s", addr)
	}
	c, _ := newTestCache(Options{Redis: conn})
	var calls atomic.Int32
	for i := range 2 {
		if o, err := c.Do(key("/x"), testRule(time.Minute), &fasthttp.Response{}, countingFill(&calls, "v")); err != nil || (i == 1 && o != Hit) {
			t.Fatalf("request %d: %s, %v", i, o, err)
		}
	}
	if st := c.Stats(); st.Fills != 1 || st.RedisErrors != 2 {
		t.Errorf("stats %+v, want 1 fill and 2 Redis errors (look-up and store)", st)
	}
}

func BenchmarkRemoteHit(b *testing.B) {
	srv := redistest.Start(b)
	conn, err := redisconn.Open(redisconn.Options{Addrs: []string{srv.Addr}})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	clock := newTestClock()
	filler := New(Options{Redis: conn, Now: clock.Now, RedisTimeout: time.Second})
	k := key("/remote")
	body := fmt.Sprintf("%01024d", 7)
	var calls atomic.Int32
	if _, err := filler.Do(k, testRule(time.Hour), &fasthttp.Response{}, countingFill(&calls, body)); err != nil {
		b.Fatal(err)
	}
	// A cache too small to keep anything reads Redis on every request.
	c := New(Options{Redis: conn, Now: clock.Now, Shards: 1, MaxBytes: 1, RedisTimeout: time.Second})
	resp := &fasthttp.Response{}
	b.ReportAllocs()
	for b.Loop() {
		if o, err := c.Do(k, testRule(time.Hour), resp, mustNotFill); o != RemoteHit || err != nil {
			b.Fatalf("%s, %v", o, err)
		}
	}
}
