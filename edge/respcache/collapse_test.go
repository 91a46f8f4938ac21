package respcache

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// slowFill returns a fill that counts its calls and answers with resp's
// status, headers and body once release is closed.
func slowFill(calls *atomic.Int32, release <-chan struct{}, answer *fasthttp.Response) func(*fasthttp.Response) error {
	return func(resp *fasthttp.Response) error {
		n := calls.Add(1)
		<-release
		answer.CopyTo(resp)
		resp.Header.Set("X-Fill", strconv.Itoa(int(n)))
		return nil
	}
}

// runConcurrently runs n callers of do at once and returns when all have
// finished. Whatever the scheduling, a caller either waits on the fill in
// flight or arrives after it and finds its result, so the counts the tests
// check do not depend on timing; the pauses before releasing a fill only
// make waiting the common case.
func runConcurrently(n int, do func(i int) (Outcome, error)) ([]Outcome, []error) {
	outcomes, errs := make([]Outcome, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outcomes[i], errs[i] = do(i)
		}()
	}
	wg.Wait()
	return outcomes, errs
}

// waitForCall polls, for at most 5s, until a fill for k is in flight, and
// reports whether one was. It is called from helper goroutines, so it
// reports rather than failing the test itself.
func waitForCall(c *Cache, k []byte) bool {
	s := c.shard(k)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		s.mu.Lock()
		cl := s.calls[string(k)]
		s.mu.Unlock()
		if cl != nil {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// releaseWhenWaiting closes release once a fill for k is in flight and the
// other callers have had a moment to queue behind it.
func releaseWhenWaiting(t *testing.T, c *Cache, k []byte, release chan struct{}) {
	if !waitForCall(c, k) {
		t.Error("no fill started within 5s")
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
}

func TestDoCollapsesConcurrentMisses(t *testing.T) {
	const callers = 50
	c, _ := newTestCache(Options{})
	k := key("/popular")
	var calls atomic.Int32
	release := make(chan struct{})
	fill := slowFill(&calls, release, backend(200, `{"n":1}`, "ETag", `"e"`))

	var entered sync.WaitGroup
	entered.Add(callers)
	go func() {
		entered.Wait()
		releaseWhenWaiting(t, c, k, release)
	}()
	resps := make([]*fasthttp.Response, callers)
	outcomes, errs := runConcurrently(callers, func(i int) (Outcome, error) {
		resps[i] = &fasthttp.Response{}
		entered.Done()
		return c.Do(k, testRule(time.Minute), resps[i], fill)
	})

	if n := calls.Load(); n != 1 {
		t.Fatalf("%d fills for %d concurrent callers, want 1", n, callers)
	}
	counts := map[Outcome]int{}
	for i := range callers {
		counts[outcomes[i]]++
		if errs[i] != nil {
			t.Errorf("caller %d: %v", i, errs[i])
		}
		r := resps[i]
		if r.StatusCode() != 200 || string(r.Body()) != `{"n":1}` || header(r, "ETag") != `"e"` {
			t.Errorf("caller %d (%s): status %d body %q ETag %q", i, outcomes[i], r.StatusCode(), r.Body(), header(r, "ETag"))
		}
		if got := header(r, "X-Cache"); got != "MISS" && outcomes[i] != Hit {
			t.Errorf("caller %d (%s): X-Cache %q", i, outcomes[i], got)
		}
	}
	if counts[Miss] != 1 || counts[Shared]+counts[Hit] != callers-1 {
		t.Errorf("outcomes %v, want one miss and the rest shared or hits", counts)
	}
	st := c.Stats()
	if st.Fills != 1 || st.Shared != uint64(counts[Shared]) || st.Entries != 1 {
		t.Errorf("stats %+v", st)
	}

	// The next caller is a plain hit.
	resp := &fasthttp.Response{}
	if o, err := c.Do(k, testRule(time.Minute), resp, fill); o != Hit || err != nil || header(resp, "X-Cache") != "HIT" {
		t.Errorf("after the fill: %s, %v, X-Cache %q", o, err, header(resp, "X-Cache"))
	}
}

func TestDoSharesErrors(t *testing.T) {
	c, _ := newTestCache(Options{})
	k := key("/down")
	errDown := errors.New("backend down")
	var calls atomic.Int32
	release := make(chan struct{})
	fill := func(*fasthttp.Response) error {
		calls.Add(1)
		<-release
		return errDown
	}
	go releaseWhenWaiting(t, c, k, release)
	_, errs := runConcurrently(10, func(int) (Outcome, error) {
		return c.Do(k, testRule(time.Minute), &fasthttp.Response{}, fill)
	})
	for i, err := range errs {
		if !errors.Is(err, errDown) {
			t.Errorf("caller %d: %v, want the fill's error", i, err)
		}
	}
	if n := calls.Load(); n > 10 || n < 1 {
		t.Errorf("%d fills", n)
	}
	if e, _ := c.Get(k); e != nil {
		t.Error("a failed fill left an entry")
	}
}

// TestDoPersonalNotShared: a response that sets a cookie was made for one
// client; collapsed callers must fetch their own.
func TestDoPersonalNotShared(t *testing.T) {
	c, _ := newTestCache(Options{})
	k := key("/login")
	var calls atomic.Int32
	release := make(chan struct{})
	fill := func(resp *fasthttp.Response) error {
		n := calls.Add(1)
		<-release
		resp.SetStatusCode(200)
		resp.Header.Set("Set-Cookie", "sid="+strconv.Itoa(int(n)))
		resp.SetBodyString("welcome " + strconv.Itoa(int(n)))
		return nil
	}
	go releaseWhenWaiting(t, c, k, release)
	resps := make([]*fasthttp.Response, 5)
	outcomes, errs := runConcurrently(5, func(i int) (Outcome, error) {
		resps[i] = &fasthttp.Response{}
		return c.Do(k, testRule(time.Minute), resps[i], fill)
	})
	seen := map[string]bool{}
	for i, r := range resps {
		if errs[i] != nil || outcomes[i] != Miss {
			t.Errorf("caller %d: %s, %v", i, outcomes[i], errs[i])
		}
		if seen[string(r.Body())] {
			t.Errorf("caller %d got another caller's personal response %q", i, r.Body())
		}
		seen[string(r.Body())] = true
	}
	if n := calls.Load(); n != 5 {
		t.Errorf("%d fills for 5 callers of a personal response, want 5", n)
	}
	if n := c.Stats().Entries; n != 0 {
		t.Errorf("%d entries stored", n)
	}
}

func TestDoPanicReleasesWaiters(t *testing.T) {
	c, _ := newTestCache(Options{})
	k := key("/panic")
	release := make(chan struct{})
	waiter := make(chan error, 1)
	go func() {
		if !waitForCall(c, k) {
			t.Error("no fill started within 5s")
		}
		go func() {
			_, err := c.Do(k, testRule(time.Minute), &fasthttp.Response{}, func(*fasthttp.Response) error { return nil })
			waiter <- err
		}()
		time.Sleep(50 * time.Millisecond)
		close(release)
	}()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the fill's panic did not reach its caller")
			}
		}()
		c.Do(k, testRule(time.Minute), &fasthttp.Response{}, func(*fasthttp.Response) error {
			<-release
			panic("fill broke")
		})
	}()
	select {
	case err := <-waiter:
		// The waiter either shared the panic or arrived after it and
		// filled on its own.
		if err != nil && !errors.Is(err, ErrFillPanicked) {
			t.Errorf("waiter: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter still blocked after the fill panicked")
	}
	if n := len(c.shard(k).calls); n != 0 {
		t.Errorf("%d calls left registered", n)
	}
}

// TestDoStaleFallback is the circuit-open path: the fill fails, and the
// caller serves the stale entry instead of an error.
func TestDoStaleFallback(t *testing.T) {
	c, clock := newTestCache(Options{})
	k := key("/items")
	r := testRule(10 * time.Second)
	ok := func(resp *fasthttp.Response) error { backend(200, "v1").CopyTo(resp); return nil }
	if o, err := c.Do(k, r, &fasthttp.Response{}, ok); o != Miss || err != nil {
		t.Fatalf("first Do: %s, %v", o, err)
	}
	clock.Advance(11 * time.Second)
	errOpen := errors.New("circuit open")
	resp := &fasthttp.Response{}
	o, err := c.Do(k, r, resp, func(*fasthttp.Response) error { return errOpen })
	if o != Miss || !errors.Is(err, errOpen) {
		t.Fatalf("Do with a stale entry and a failing backend: %s, %v", o, err)
	}
	e, fresh := c.Get(k)
	if e == nil || fresh {
		t.Fatalf("stale entry: %v, fresh %v", e != nil, fresh)
	}
	resp.Header.Reset()
	e.WriteTo(resp)
	if string(resp.Body()) != "v1" || header(resp, "X-Cache") != "STALE" || header(resp, "Age") != "11" {
		t.Errorf("stale response: body %q X-Cache %q Age %q", resp.Body(), header(resp, "X-Cache"), header(resp, "Age"))
	}
	// A backend that recovers refreshes the entry.
	if o, err := c.Do(k, r, &fasthttp.Response{}, func(resp *fasthttp.Response) error { backend(200, "v2").CopyTo(resp); return nil }); o != Miss || err != nil {
		t.Fatalf("refresh: %s, %v", o, err)
	}
	if e, fresh := c.Get(k); !fresh || string(e.Body) != "v2" {
		t.Errorf("after refresh: fresh %v body %q", fresh, e.Body)
	}
}

func TestDoDoesNotStoreHEAD(t *testing.T) {
	c, _ := newTestCache(Options{})
	k := key("/items")
	resp := &fasthttp.Response{SkipBody: true}
	c.Do(k, testRule(time.Minute), resp, func(resp *fasthttp.Response) error {
		resp.SetStatusCode(200)
		resp.Header.SetContentLength(1234)
		return nil
	})
	if e, _ := c.Get(k); e != nil {
		t.Error("a HEAD response was stored under the GET key")
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{Miss: "miss", Hit: "hit", RemoteHit: "remote_hit", Shared: "shared"} {
		if o.String() != want {
			t.Errorf("%d: %q, want %q", o, o.String(), want)
		}
	}
}
