package respcache

import (
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestSnapshotVerdicts(t *testing.T) {
	byUser := &Rule{Route: "r", TTL: time.Minute, ByUser: true}
	byTenant := &Rule{Route: "r", TTL: time.Minute, Headers: []string{"X-Tenant"}}
	plain := testRule(time.Minute)
	for _, c := range []struct {
		name string
		resp *fasthttp.Response
		rule *Rule
		want verdict
		ttl  time.Duration
	}{
		{"200", backend(200, "ok"), plain, storable, time.Minute},
		{"203", backend(203, "ok"), plain, storable, time.Minute},
		{"204", backend(204, ""), plain, storable, time.Minute},
		{"301", backend(301, "", "Location", "/new"), plain, storable, time.Minute},
		{"404", backend(404, "nope"), plain, storable, time.Minute},
		{"410", backend(410, "gone"), plain, storable, time.Minute},
		{"201", backend(201, "made"), plain, shareable, 0},
		{"302", backend(302, "", "Location", "/tmp"), plain, shareable, 0},
		{"500", backend(500, "boom"), plain, shareable, 0},
		{"503", backend(503, "down"), plain, shareable, 0},
		{"public", backend(200, "ok", "Cache-Control", "public"), plain, storable, time.Minute},
		{"max-age shortens", backend(200, "ok", "Cache-Control", "max-age=5"), plain, storable, 5 * time.Second},
		{"max-age never lengthens", backend(200, "ok", "Cache-Control", "max-age=3600"), plain, storable, time.Minute},
		{"s-maxage wins", backend(200, "ok", "Cache-Control", "max-age=1, s-maxage=7"), plain, storable, 7 * time.Second},
		{"quoted max-age", backend(200, "ok", "Cache-Control", `max-age="9"`), plain, storable, 9 * time.Second},
		{"huge max-age", backend(200, "ok", "Cache-Control", "max-age=99999999999999999999"), plain, storable, time.Minute},
		{"max-age=0", backend(200, "ok", "Cache-Control", "max-age=0"), plain, shareable, 0},
		{"bad max-age", backend(200, "ok", "Cache-Control", "max-age=soon"), plain, shareable, 0},
		{"no-cache", backend(200, "ok", "Cache-Control", "no-cache"), plain, shareable, 0},
		{"no-store", backend(200, "ok", "Cache-Control", "No-Store"), plain, personal, 0},
		{"no-store in second header", backend(200, "ok", "Cache-Control", "public", "Cache-Control", "no-store"), plain, personal, 0},
		{"private", backend(200, "ok", "Cache-Control", "private, max-age=60"), plain, personal, 0},
		{"qualified private", backend(200, "ok", "Cache-Control", `private="X-Secret"`), plain, personal, 0},
		{"private by user", backend(200, "ok", "Cache-Control", "private, max-age=60"), byUser, storable, time.Minute},
		{"set-cookie", backend(200, "ok", "Set-Cookie", "sid=1; HttpOnly"), plain, personal, 0},
		{"set-cookie by user", backend(200, "ok", "Set-Cookie", "sid=1"), byUser, personal, 0},
		{"vary *", backend(200, "ok", "Vary", "*"), plain, personal, 0},
		{"vary cookie", backend(200, "ok", "Vary", "Cookie"), plain, personal, 0},
		{"vary authorization", backend(200, "ok", "Vary", "Authorization"), plain, personal, 0},
		{"vary authorization by user", backend(200, "ok", "Vary", "Authorization"), byUser, storable, time.Minute},
		{"vary accept-encoding, identity body", backend(200, "ok", "Vary", "Accept-Encoding"), plain, storable, time.Minute},
		{"vary accept-encoding, gzip body", backend(200, "ok", "Vary", "Accept-Encoding", "Content-Encoding", "gzip"), plain, personal, 0},
		{"vary varied header", backend(200, "ok", "Vary", "x-tenant, Accept-Encoding"), byTenant, storable, time.Minute},
		{"vary other header", backend(200, "ok", "Vary", "X-Tenant, Origin"), byTenant, personal, 0},
		{"vary in second header", backend(200, "ok", "Vary", "Accept-Encoding", "Vary", "Origin"), plain, personal, 0},
	} {
		clock := newTestClock()
		e, v := snapshot(key("/"), c.resp, c.rule, clock.Now(), clock.Now)
		if v != c.want {
			t.Errorf("%s: verdict %d, want %d", c.name, v, c.want)
			continue
		}
		if v == personal {
			if e != nil {
				t.Errorf("%s: personal response copied", c.name)
			}
			continue
		}
		if got := e.Expires.Sub(e.Stored); got != c.ttl {
			t.Errorf("%s: lifetime %v, want %v", c.name, got, c.ttl)
		}
	}
}

func TestSnapshotNoStale(t *testing.T) {
	for cc, noStale := range map[string]bool{
		"max-age=60":                  false,
		"max-age=60, must-revalidate": true,
		"proxy-revalidate":            true,
		"s-maxage=60":                 true,
	} {
		clock := newTestClock()
		e, v := snapshot(key("/"), backend(200, "ok", "Cache-Control", cc), testRule(time.Minute), clock.Now(), clock.Now)
		if v != storable {
			t.Fatalf("%q: verdict %d", cc, v)
		}
		if got := e.flags&flagNoStale != 0; got != noStale {
			t.Errorf("%q: no-stale %v, want %v", cc, got, noStale)
		}
	}
}

func TestSnapshotSkipsBodylessAndStreams(t *testing.T) {
	clock := newTestClock()
	head := backend(200, "")
	head.SkipBody = true
	stream := backend(200, "")
	stream.SetBodyStream(strings.NewReader("streamed"), -1)
	for name, resp := range map[string]*fasthttp.Response{"HEAD": head, "stream": stream} {
		if _, v := snapshot(key("/"), resp, testRule(time.Minute), clock.Now(), clock.Now); v != personal {
			t.Errorf("%s: verdict %d, want personal", name, v)
		}
	}
}

// TestSnapshotHeaders checks which headers an entry keeps and that a hit
// gives them back with their repetitions.
func TestSnapshotHeaders(t *testing.T) {
	clock := newTestClock()
	resp := backend(200, `{"ok":true}`,
		"ETag", `"v1"`,
		"Link", "</p2>; rel=next",
		"Link", "</p0>; rel=prev",
		"Content-Language", "en",
		"Server", "backend/1.0",
		"Vary", "Accept-Encoding",
		"Date", "Mon, 01 Jan 2024 00:00:00 GMT",
		"Age", "100",
		"Connection", "keep-alive",
		"Keep-Alive", "timeout=5",
		"Proxy-Authenticate", "Basic",
		"X-Trace-ID", "abc",
		"RateLimit-Remaining", "9",
		"X-Cache", "HIT",
	)
	e, v := snapshot(key("/"), resp, testRule(time.Minute), clock.Now(), clock.Now)
	if v != storable {
		t.Fatalf("verdict %d", v)
	}
	clock.Advance(2500 * time.Millisecond)
	out := written(t, e)
	for name, want := range map[string]string{
		"Content-Type":        "application/json",
		"ETag":                `"v1"`,
		"Link":                "</p2>; rel=next | </p0>; rel=prev",
		"Content-Language":    "en",
		"Server":              "backend/1.0",
		"Vary":                "Accept-Encoding",
		"Age":                 "2",
		"X-Cache":             "HIT",
		"Keep-Alive":          "",
		"Proxy-Authenticate":  "",
		"X-Trace-ID":          "",
		"RateLimit-Remaining": "",
	} {
		if got := header(out, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if out.StatusCode() != 200 || string(out.Body()) != `{"ok":true}` {
		t.Errorf("status %d body %q", out.StatusCode(), out.Body())
	}
}

// FuzzSnapshot runs arbitrary Cache-Control and Vary values from a
// backend through snapshot: it must not panic, and whatever it copies must
// decode back to the same entry, as the Redis tier will.
func FuzzSnapshot(f *testing.F) {
	for _, s := range [][2]string{
		{"max-age=10", ""}, {"no-store", "*"}, {`private="a,b", max-age="3"`, "Accept-Encoding"},
		{"s-maxage=,max-age", ", ,"}, {"max-age=99999999999999999999999", "X-Tenant"},
	} {
		f.Add(s[0], s[1])
	}
	rule := &Rule{Route: "r", TTL: time.Minute, Headers: []string{"X-Tenant"}}
	f.Fuzz(func(t *testing.T, cacheControl, vary string) {
		resp := backend(200, "body")
		resp.Header.Set("Cache-Control", cacheControl)
		resp.Header.Set("Vary", vary)
		clock := newTestClock()
		e, v := snapshot(key("/"), resp, rule, clock.Now(), clock.Now)
		if v == personal {
			return
		}
		if life := e.Expires.Sub(e.Stored); life < 0 || life > rule.TTL || (v == shareable && life != 0) {
			t.Fatalf("verdict %d with lifetime %v", v, life)
		}
		d, err := decode(e.raw, clock.Now)
		if err != nil || d.key != e.key || !d.Expires.Equal(e.Expires) || string(d.Body) != "body" {
			t.Fatalf("round trip: %v, %+v", err, d)
		}
	})
}
