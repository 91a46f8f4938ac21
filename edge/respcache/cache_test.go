package respcache

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestGetFreshThenStale(t *testing.T) {
	c, clock := newTestCache(Options{})
	k := key("/items")
	if e, _ := c.Get(k); e != nil {
		t.Fatal("empty cache returned an entry")
	}
	if !c.Set(k, backend(200, "v1", "ETag", `"1"`), testRule(10*time.Second)) {
		t.Fatal("Set refused a cacheable response")
	}

	clock.Advance(9 * time.Second)
	e, fresh := c.Get(k)
	if e == nil || !fresh {
		t.Fatalf("after 9s of 10s: entry %v, fresh %v", e != nil, fresh)
	}
	resp := written(t, e)
	if got := header(resp, "X-Cache") + " " + header(resp, "Age"); got != "HIT 9" {
		t.Errorf("fresh hit: X-Cache and Age %q, want \"HIT 9\"", got)
	}

	clock.Advance(time.Second)
	e, fresh = c.Get(k)
	if e == nil || fresh {
		t.Fatalf("at expiry: entry %v, fresh %v; want a stale entry", e != nil, fresh)
	}
	clock.Advance(time.Hour)
	e, fresh = c.Get(k)
	if e == nil || fresh {
		t.Fatalf("an hour past expiry: entry %v, fresh %v; want it kept until evicted", e != nil, fresh)
	}
	resp = written(t, e)
	if got := header(resp, "X-Cache"); got != "STALE" {
		t.Errorf("stale entry: X-Cache %q", got)
	}
	if string(resp.Body()) != "v1" || header(resp, "ETag") != `"1"` || header(resp, "Age") != "3610" {
		t.Errorf("stale entry: body %q ETag %q Age %q", resp.Body(), header(resp, "ETag"), header(resp, "Age"))
	}

	st := c.Stats()
	if st.Hits != 1 || st.StaleHits != 2 || st.Misses != 1 || st.Entries != 1 || st.Stores != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestMaxStale(t *testing.T) {
	c, clock := newTestCache(Options{MaxStale: time.Minute})
	k := key("/items")
	c.Set(k, backend(200, "v1"), testRule(time.Second))
	clock.Advance(time.Second + time.Minute - time.Nanosecond)
	if e, fresh := c.Get(k); e == nil || fresh {
		t.Fatalf("within MaxStale: entry %v fresh %v", e != nil, fresh)
	}
	clock.Advance(time.Nanosecond)
	if e, _ := c.Get(k); e != nil {
		t.Fatal("past MaxStale: entry still served")
	}
	if st := c.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Errorf("past MaxStale: entry still held, %+v", st)
	}
}

func TestMustRevalidateIsNeverStale(t *testing.T) {
	c, clock := newTestCache(Options{})
	k := key("/items")
	c.Set(k, backend(200, "v1", "Cache-Control", "max-age=5, must-revalidate"), testRule(time.Minute))
	clock.Advance(4 * time.Second)
	if _, fresh := c.Get(k); !fresh {
		t.Fatal("fresh entry not fresh")
	}
	clock.Advance(time.Second)
	if e, _ := c.Get(k); e != nil {
		t.Fatal("must-revalidate entry served stale")
	}
}

func TestSetRefuses(t *testing.T) {
	c, _ := newTestCache(Options{MaxBytes: 64 << 10, Shards: 4})
	for name, resp := range map[string]*fasthttp.Response{
		"no-store":   backend(200, "x", "Cache-Control", "no-store"),
		"private":    backend(200, "x", "Cache-Control", "private"),
		"set-cookie": backend(200, "x", "Set-Cookie", "sid=secret"),
		"500":        backend(500, "x"),
		"too large":  backend(200, strings.Repeat("x", 16<<10)),
	} {
		k := key("/" + name)
		if c.Set(k, resp, testRule(time.Minute)) {
			t.Errorf("%s: stored", name)
		}
		if e, _ := c.Get(k); e != nil {
			t.Errorf("%s: Get found an entry", name)
		}
	}
	if st := c.Stats(); st.Refused != 5 || st.Entries != 0 {
		t.Errorf("stats %+v", st)
	}
	// private is fine when every user has their own key.
	if !c.Set(key("/mine"), backend(200, "x", "Cache-Control", "private"), &Rule{Route: "r", TTL: time.Minute, ByUser: true}) {
		t.Error("private response refused on a route varied by user")
	}
}

func TestVaryByUserSeparates(t *testing.T) {
	c, _ := newTestCache(Options{})
	r, err := NewRule("me", time.Minute, []string{"user"})
	if err != nil {
		t.Fatal(err)
	}
	req := &fasthttp.Request{}
	req.SetRequestURI("/me")
	req.Header.SetHost("api.example.com")
	alice := r.AppendKey(nil, req, []byte("alice"))
	bob := r.AppendKey(nil, req, []byte("bob"))
	c.Set(alice, backend(200, `{"user":"alice"}`, "Cache-Control", "private"), r)
	if e, _ := c.Get(bob); e != nil {
		t.Fatalf("bob got alice's entry: %q", e.Body)
	}
	c.Set(bob, backend(200, `{"user":"bob"}`, "Cache-Control", "private"), r)
	for user, k := range map[string][]byte{"alice": alice, "bob": bob} {
		e, fresh := c.Get(k)
		if e == nil || !fresh || string(e.Body) != `{"user":"`+user+`"}` {
			t.Errorf("%s: entry %v", user, e)
		}
	}
	if n := c.Stats().Entries; n != 2 {
		t.Errorf("%d entries, want 2", n)
	}
}

func TestSetReplaces(t *testing.T) {
	c, _ := newTestCache(Options{Shards: 1})
	k := key("/x")
	c.Set(k, backend(200, "old"), testRule(time.Minute))
	old, _ := c.Get(k)
	c.Set(k, backend(200, "newer body"), testRule(time.Minute))
	e, _ := c.Get(k)
	if string(e.Body) != "newer body" {
		t.Errorf("body %q after replacing", e.Body)
	}
	if string(old.Body) != "old" {
		t.Errorf("a replaced entry held by a reader changed to %q", old.Body)
	}
	if st := c.Stats(); st.Entries != 1 || st.Bytes != e.Size() {
		t.Errorf("after replacing: %+v, want one entry of %d bytes", st, e.Size())
	}
}

// TestLRUOrder fills a single shard to its budget and checks that the entry
// read most recently survives the next insertion while the least recently
// used one goes.
func TestLRUOrder(t *testing.T) {
	body := strings.Repeat("x", 1000)
	probe, _ := snapshot(key("/a"), backend(200, body), testRule(time.Minute), time.Now(), time.Now)
	c, _ := newTestCache(Options{Shards: 1, MaxBytes: 3*probe.Size() + probe.Size()/2})
	for _, p := range []string{"/a", "/b", "/c"} {
		c.Set(key(p), backend(200, body), testRule(time.Minute))
	}
	if e, _ := c.Get(key("/a")); e == nil {
		t.Fatal("/a missing before any eviction")
	}
	c.Set(key("/d"), backend(200, body), testRule(time.Minute))
	for p, want := range map[string]bool{"/a": true, "/b": false, "/c": true, "/d": true} {
		if e, _ := c.Get(key(p)); (e != nil) != want {
			t.Errorf("%s present %v, want %v", p, e != nil, want)
		}
	}
	if ev := c.Stats().Evictions; ev != 1 {
		t.Errorf("%d evictions, want 1", ev)
	}
}

// TestByteBoundFlood stores far more than MaxBytes, in entries of random
// sizes from several goroutines, and checks the bound after every store.
func TestByteBoundFlood(t *testing.T) {
	const maxBytes = 256 << 10
	c, _ := newTestCache(Options{MaxBytes: maxBytes, Shards: 8})
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range 500 {
				body := strings.Repeat("y", r.IntN(12<<10))
				c.Set(key(fmt.Sprintf("/%d/%d", g, i)), backend(200, body), testRule(time.Minute))
				if i%10 == 0 {
					c.Get(key(fmt.Sprintf("/%d/%d", g, r.IntN(i+1))))
				}
				if b := c.Stats().Bytes; b > maxBytes {
					errs <- fmt.Sprintf("%d bytes held, MaxBytes %d", b, maxBytes)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	st := c.Stats()
	if st.Evictions == 0 || st.Bytes > maxBytes || st.Bytes < maxBytes/4 {
		t.Errorf("after the flood: %+v", st)
	}
	// The shards' accounting matches what they hold.
	for i := range c.shards {
		s := &c.shards[i]
		var sum int64
		n := 0
		for e := s.head; e != nil; e = e.next {
			sum += e.Size()
			n++
		}
		if sum != s.bytes || n != len(s.entries) {
			t.Errorf("shard %d: list holds %d entries of %d bytes, map %d, counter %d", i, n, sum, len(s.entries), s.bytes)
		}
	}
}

func TestWriteToKeepsOtherHeaders(t *testing.T) {
	c, _ := newTestCache(Options{})
	k := key("/x")
	c.Set(k, backend(200, "cached", "ETag", `"c"`), testRule(time.Minute))
	e, _ := c.Get(k)
	resp := &fasthttp.Response{}
	resp.Header.Set("X-Trace-ID", "t-1")
	resp.Header.Set("ETag", `"old"`)
	resp.SkipBody = true
	e.WriteTo(resp)
	if header(resp, "X-Trace-ID") != "t-1" || header(resp, "ETag") != `"c"` || !resp.SkipBody {
		t.Errorf("X-Trace-ID %q, ETag %q, SkipBody %v", header(resp, "X-Trace-ID"), header(resp, "ETag"), resp.SkipBody)
	}
}
