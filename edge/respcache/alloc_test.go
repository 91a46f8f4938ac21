//go:build !race

package respcache

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// The race detector allocates on its own, so these run without it.

func TestHitDoesNotAllocate(t *testing.T) {
	c, clock := newTestCache(Options{})
	k := key("/items")
	c.Set(k, backend(200, `{"items":[1,2,3]}`, "ETag", `"v1"`, "Link", "</a>", "Link", "</b>"), testRule(time.Minute))
	resp := &fasthttp.Response{}
	var fresh bool
	get := func() {
		var e *Entry
		e, fresh = c.Get(k)
		e.WriteTo(resp)
	}
	get()
	if avg := testing.AllocsPerRun(1000, get); avg != 0 {
		t.Errorf("%v allocations per Get and WriteTo, want 0", avg)
	}
	if !fresh {
		t.Error("entry not fresh")
	}
	clock.Advance(time.Hour)
	get()
	if avg := testing.AllocsPerRun(1000, get); avg != 0 {
		t.Errorf("stale: %v allocations per Get and WriteTo, want 0", avg)
	}
}

func TestDoHitDoesNotAllocate(t *testing.T) {
	c, _ := newTestCache(Options{})
	k := key("/items")
	r := testRule(time.Minute)
	c.Set(k, backend(200, `{"items":[1,2,3]}`), r)
	resp := &fasthttp.Response{}
	var o Outcome
	do := func() { o, _ = c.Do(k, r, resp, mustNotFill) }
	do()
	if avg := testing.AllocsPerRun(1000, do); avg != 0 {
		t.Errorf("%v allocations per Do hit, want 0", avg)
	}
	if o != Hit {
		t.Errorf("outcome %s", o)
	}
}

func TestAppendKeyDoesNotAllocate(t *testing.T) {
	dst := make([]byte, 0, 256)
	path, query, user := []byte("/api/v2/users/42"), []byte("fields=name"), []byte("alice")
	if avg := testing.AllocsPerRun(1000, func() { dst = AppendKey(dst[:0], "users", path, query, user) }); avg != 0 {
		t.Errorf("%v allocations per AppendKey, want 0", avg)
	}
	r, err := NewRule("users", time.Minute, []string{"user", "header:X-Tenant"})
	if err != nil {
		t.Fatal(err)
	}
	req := &fasthttp.Request{}
	req.SetRequestURI("/api/v2/users/42?fields=name")
	req.Header.SetHost("api.example.com")
	req.Header.Set("X-Tenant", "t1")
	if avg := testing.AllocsPerRun(1000, func() { dst = r.AppendKey(dst[:0], req, user) }); avg != 0 {
		t.Errorf("%v allocations per Rule.AppendKey, want 0", avg)
	}
}
