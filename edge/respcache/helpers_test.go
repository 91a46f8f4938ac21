package respcache

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// testClock is a clock the test moves by hand.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// newTestCache returns a cache on a test clock.
func newTestCache(o Options) (*Cache, *testClock) {
	clock := newTestClock()
	o.Now = clock.Now
	return New(o), clock
}

// testRule is a rule on route "r" with the given ttl and no vary.
func testRule(ttl time.Duration) *Rule { return &Rule{Route: "r", TTL: ttl} }

// backend builds a response as a backend would send it; headers are name,
// value pairs and may repeat a name.
func backend(status int, body string, headers ...string) *fasthttp.Response {
	resp := &fasthttp.Response{}
	resp.SetStatusCode(status)
	resp.Header.SetContentType("application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		resp.Header.Add(headers[i], headers[i+1])
	}
	resp.SetBodyString(body)
	return resp
}

// key is a key for path on route "r".
func key(path string) []byte { return AppendKey(nil, "r", []byte(path), nil) }

// written writes e into a fresh response and returns it.
func written(t testing.TB, e *Entry) *fasthttp.Response {
	t.Helper()
	resp := &fasthttp.Response{}
	e.WriteTo(resp)
	return resp
}

// header returns every value of name on resp, joined by " | ".
func header(resp *fasthttp.Response, name string) string {
	var vals []string
	for _, v := range resp.Header.PeekAll(name) {
		vals = append(vals, string(v))
	}
	return strings.Join(vals, " | ")
}
