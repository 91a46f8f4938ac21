package aggregate

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/gateway/edge/route"
	"github.com/edgegate/gateway/pool"
)

// backend starts an HTTP server on loopback whose handler is h, and a
// pool service in front of it.
func backend(t *testing.T, name string, h http.HandlerFunc) *pool.Service {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	svc, err := pool.New(pool.Options{Name: name, Instances: []string{strings.TrimPrefix(srv.URL, "http://")}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return svc
}

func jsonBackend(t *testing.T, name string, delay time.Duration, body string) *pool.Service {
	return backend(t, name, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	})
}

type claims map[string]string

func (c claims) Claim(name string) ([]byte, bool) {
	v, ok := c[name]
	return []byte(v), ok
}

func run(t *testing.T, p *Plan, r *Request) (*fasthttp.Response, int, time.Duration) {
	t.Helper()
	resp := fasthttp.AcquireResponse()
	t.Cleanup(func() { fasthttp.ReleaseResponse(resp) })
	start := time.Now()
	failed := p.Run(r, resp)
	return resp, failed, time.Since(start)
}

func decode(t *testing.T, body []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("result is not JSON: %v\n%s", err, body)
	}
	return m
}

func TestFanOutIsParallel(t *testing.T) {
	var specs []CallSpec
	for i := range 5 {
		name := fmt.Sprintf("c%d", i)
		specs = append(specs, CallSpec{Name: name, Service: jsonBackend(t, name, 100*time.Millisecond, fmt.Sprintf(`{"n":%d}`, i)), Path: "/x"})
	}
	p, err := Compile(specs, 2*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, failed, took := run(t, p, &Request{})
	if failed != 0 {
		t.Fatalf("failed = %d; body %s", failed, resp.Body())
	}
	// Five calls of 100 ms each: together about 100 ms, one after the
	// other 500 ms. The bound leaves room for a slow, shared machine.
	if took >= 450*time.Millisecond {
		t.Fatalf("five 100ms calls took %v: not run in parallel", took)
	}
	want := `{"c0":{"n":0},"c1":{"n":1},"c2":{"n":2},"c3":{"n":3},"c4":{"n":4}}`
	if got := string(resp.Body()); got != want {
		t.Fatalf("body = %s, want %s", got, want)
	}
	if ct := string(resp.Header.ContentType()); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	if v := resp.Header.Peek("X-Partial"); v != nil {
		t.Fatalf("X-Partial = %q on a full result", v)
	}
}

func TestSlowCallIsNullAndNamed(t *testing.T) {
	fast := jsonBackend(t, "fast", 0, `{"ok":true}`)
	slow := jsonBackend(t, "slow", time.Second, `{"late":true}`)
	p, err := Compile([]CallSpec{
		{Name: "profile", Service: fast, Path: "/p"},
		{Name: "notifications", Service: slow, Path: "/n"},
	}, 200*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, failed, took := run(t, p, &Request{})
	if failed != 1 {
		t.Fatalf("failed = %d, want 1", failed)
	}
	if got := string(resp.Body()); got != `{"profile":{"ok":true},"notifications":null}` {
		t.Fatalf("body = %s", got)
	}
	if got := string(resp.Header.Peek("X-Partial")); got != "notifications" {
		t.Fatalf("X-Partial = %q", got)
	}
	if took >= 900*time.Millisecond {
		t.Fatalf("took %v: the slow call was waited for past the 200ms timeout", took)
	}
}

func TestFailuresAreNull(t *testing.T) {
	dead, err := pool.New(pool.Options{Name: "dead", Instances: []string{deadAddr(t)}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile([]CallSpec{
		{Name: "ok", Service: jsonBackend(t, "ok", 0, `[1,2]`), Path: "/"},
		{Name: "status", Service: backend(t, "status", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(500)
			fmt.Fprint(w, `{"error":1}`)
		}), Path: "/"},
		{Name: "html", Service: jsonBackend(t, "html", 0, `<html>`), Path: "/"},
		{Name: "empty", Service: jsonBackend(t, "empty", 0, ``), Path: "/"},
		{Name: "refused", Service: dead, Path: "/"},
	}, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, failed, _ := run(t, p, &Request{})
	if failed != 4 {
		t.Fatalf("failed = %d, want 4; body %s", failed, resp.Body())
	}
	m := decode(t, resp.Body())
	if string(m["ok"]) != "[1,2]" {
		t.Fatalf("ok = %s", m["ok"])
	}
	for _, k := range []string{"status", "html", "empty", "refused"} {
		if string(m[k]) != "null" {
			t.Errorf("%s = %s, want null", k, m[k])
		}
	}
	if got := string(resp.Header.Peek("X-Partial")); got != "status,html,empty,refused" {
		t.Fatalf("X-Partial = %q", got)
	}
}

func TestAllFail(t *testing.T) {
	dead, err := pool.New(pool.Options{Name: "dead", Instances: []string{deadAddr(t)}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile([]CallSpec{{Name: "a", Service: dead, Path: "/"}, {Name: "b", Service: dead, Path: "/"}}, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, failed, _ := run(t, p, &Request{}); failed != 2 {
		t.Fatalf("failed = %d, want 2", failed)
	}
}

func TestTemplatesReachBackends(t *testing.T) {
	var seen atomic.Value
	svc := backend(t, "users", func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Host + " " + r.RequestURI + " " + r.Header.Get("X-Trace-ID"))
		fmt.Fprint(w, `{}`)
	})
	p, err := Compile([]CallSpec{{Name: "u", Service: svc, Path: "/users/{claims.sub}/items/{id}?page={query.page}&t={claims.tenant}"}}, time.Second, []string{"id"})
	if err != nil {
		t.Fatal(err)
	}
	table, err := route.Compile([]route.Spec{{Path: "/d/{id}"}})
	if err != nil {
		t.Fatal(err)
	}
	var res route.Result
	table.Match(&route.Request{Method: []byte("GET"), Path: []byte("/d/7 x")}, &res)
	var args fasthttp.Args
	args.Parse("page=2&other=1")

	in := Input{Params: &res.Params, Query: &args, Claims: claims{"sub": "u@x", "tenant": "a&b=c"}}
	_, failed, _ := run(t, p, &Request{Input: in, Prepare: func(req *fasthttp.Request) { req.Header.Set("X-Trace-ID", "t1") }})
	if failed != 0 {
		t.Fatalf("failed = %d", failed)
	}
	want := "users /users/u%40x/items/7%20x?page=2&t=a%26b%3Dc t1"
	if got := seen.Load(); got != want {
		t.Fatalf("backend saw %q, want %q", got, want)
	}

	// A param is a piece of the request's normalised path: its escapes
	// stay as they are, neither decoded nor escaped twice.
	table.Match(&route.Request{Method: []byte("GET"), Path: []byte("/d/a%25b")}, &res)
	run(t, p, &Request{Input: in})
	if got := seen.Load().(string); !strings.HasPrefix(got, "users /users/u%40x/items/a%25b?") {
		t.Fatalf("backend saw %q", got)
	}

	// A value that would decode to another segment fails the call: a
	// backend that decodes before resolving dot-segments would climb.
	for _, sub := range []string{"..", ".", "../admin", "a/b", `a\b`} {
		in.Claims = claims{"sub": sub, "tenant": "t"}
		seen.Store("")
		if _, failed, _ := run(t, p, &Request{Input: in}); failed != 1 {
			t.Fatalf("claim %q: failed = %d, want 1", sub, failed)
		}
		if got := seen.Load(); got != "" {
			t.Fatalf("claim %q reached the backend as %q", sub, got)
		}
	}
	table.Match(&route.Request{Method: []byte("GET"), Path: []byte("/d/a%2Fb")}, &res)
	in.Claims = claims{"sub": "u", "tenant": "t"}
	if _, failed, _ := run(t, p, &Request{Input: in}); failed != 1 {
		t.Fatalf("param a%%2Fb: failed = %d, want 1", failed)
	}
	table.Match(&route.Request{Method: []byte("GET"), Path: []byte("/d/7")}, &res)

	// A missing claim fails the call without sending it.
	in.Claims = nil
	seen.Store("")
	if _, failed, _ := run(t, p, &Request{Input: in}); failed != 1 {
		t.Fatalf("failed = %d, want 1", failed)
	}
	if got := seen.Load(); got != "" {
		t.Fatalf("a call with a missing claim reached the backend: %q", got)
	}
}

func TestCompileErrors(t *testing.T) {
	svc := jsonBackend(t, "s", 0, `{}`)
	for _, path := range []string{"/a/{nope}", "/a/{claims.}", "/a/{id", "/a/id}"} {
		if _, err := Compile([]CallSpec{{Name: "x", Service: svc, Path: path}}, time.Second, []string{"id"}); err == nil {
			t.Errorf("Compile(%q) accepted", path)
		}
	}
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
