package route

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// probe describes one request for the tests.
type probe struct {
	method string
	path   string
	host   string
	header map[string]string
	query  map[string]string
}

// matchCase is a probe and what Match must answer.
type matchCase struct {
	probe
	want   int
	status Status
	allow  Methods
	// params are "name=value" in pattern order.
	params []string
}

// request builds the Request for p; the header and args are fresh, as a
// server would hand them over.
func (p probe) request() *Request {
	r := &Request{Method: []byte(p.method), Path: []byte(p.path), Host: []byte(p.host)}
	if r.Method == nil {
		r.Method = []byte("GET")
	}
	r.Header = &fasthttp.RequestHeader{}
	for k, v := range p.header {
		r.Header.Set(k, v)
	}
	r.Args = &fasthttp.Args{}
	for k, v := range p.query {
		r.Args.Set(k, v)
	}
	return r
}

func mustCompile(t testing.TB, specs []Spec) *Table {
	t.Helper()
	tab, err := Compile(specs)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return tab
}

func runCases(t *testing.T, tab *Table, cases []matchCase) {
	t.Helper()
	var res Result
	for _, tc := range cases {
		name := tc.method + " " + tc.host + tc.path
		tab.Match(tc.request(), &res)
		if res.Route != tc.want || res.Status != tc.status || res.Allow != tc.allow {
			t.Errorf("%s: got route %d %v allow %q; want route %d %v allow %q",
				name, res.Route, res.Status, res.Allow, tc.want, tc.status, tc.allow)
			continue
		}
		var got []string
		for i := 0; i < res.Params.Len(); i++ {
			got = append(got, res.Params.Name(i)+"="+string(res.Params.Value(i)))
		}
		if strings.Join(got, " ") != strings.Join(tc.params, " ") {
			t.Errorf("%s: params %q, want %q", name, got, tc.params)
		}
	}
}

func found(m, path string, route int, params ...string) matchCase {
	return matchCase{probe: probe{method: m, path: path}, want: route, status: Found, params: params}
}

func notFound(m, path string) matchCase {
	return matchCase{probe: probe{method: m, path: path}, want: -1, status: NotFound}
}

func notAllowed(m, path string, allow Methods) matchCase {
	return matchCase{probe: probe{method: m, path: path}, want: -1, status: MethodNotAllowed, allow: allow}
}

func TestMatchPaths(t *testing.T) {
	tab := mustCompile(t, []Spec{
		{Path: "/"},                              // 0
		{Path: "/users"},                         // 1
		{Path: "/users/"},                        // 2
		{Path: "/users/{id}"},                    // 3
		{Path: "/users/{id}/orders/{order}"},     // 4
		{Path: "/users/me"},                      // 5
		{Path: "/files/{path...}"},               // 6
		{Path: "/a/b/c"},                         // 7
		{Path: "/a/{x}/d"},                       // 8
		{Path: "/a/{rest...}"},                   // 9
		{Path: "/deep/{a}/{b}/{c}/{d}/{e}/{f}/"}, // 10
	})
	runCases(t, tab, []matchCase{
		found("GET", "/", 0),
		found("GET", "/users", 1),
		found("GET", "/users/", 2),
		found("GET", "/users/42", 3, "id=42"),
		found("GET", "/users/me", 5),
		found("GET", "/users/42/orders/7", 4, "id=42", "order=7"),
		// Backtracking: the static "me" branch has no "orders" child.
		found("GET", "/users/me/orders/7", 4, "id=me", "order=7"),
		// A {param} never matches an empty segment.
		notFound("GET", "/users/42/orders/"),
		notFound("GET", "/users//orders/7"),
		notFound("GET", "/users/42/"),
		// The catch-all owns its whole subtree, its own root included.
		found("GET", "/files", 6, "path="),
		found("GET", "/files/", 6, "path="),
		found("GET", "/files/a", 6, "path=a"),
		found("GET", "/files/a/b/", 6, "path=a/b/"),
		// Static beats param beats catch-all, with backtracking between.
		found("GET", "/a/b/c", 7),
		found("GET", "/a/b/d", 8, "x=b"),
		found("GET", "/a/x/d", 8, "x=x"),
		found("GET", "/a/b/x", 9, "rest=b/x"),
		found("GET", "/a/b/c/", 9, "rest=b/c/"),
		found("GET", "/a/b", 9, "rest=b"),
		found("GET", "/a", 9, "rest="),
		found("GET", "/deep/1/2/3/4/5/6/", 10, "a=1", "b=2", "c=3", "d=4", "e=5", "f=6"),
		notFound("GET", "/deep/1/2/3/4/5/6"),
		notFound("GET", "/nope"),
		notFound("GET", "/users/42/orders/7/x"),
		notFound("GET", ""),
		notFound("GET", "users"),
		notFound("GET", "//"),
	})
}

func TestMatchRootCatchAll(t *testing.T) {
	tab := mustCompile(t, []Spec{
		{Path: "/{rest...}"}, // 0
		{Path: "/api/{v}"},   // 1
	})
	runCases(t, tab, []matchCase{
		found("GET", "/", 0, "rest="),
		found("GET", "/x/y", 0, "rest=x/y"),
		found("GET", "/api/1", 1, "v=1"),
		found("GET", "/api/", 0, "rest=api/"),
		found("GET", "/api/1/2", 0, "rest=api/1/2"),
	})
}

func TestMatchMethods(t *testing.T) {
	get := MethodGet | MethodHead
	tab := mustCompile(t, []Spec{
		{Path: "/items", Methods: MethodGet},                              // 0
		{Path: "/items", Methods: MethodPost},                             // 1
		{Path: "/x/static", Methods: MethodGet},                           // 2
		{Path: "/x/{p}", Methods: MethodDelete},                           // 3
		{Path: "/any"},                                                    // 4
		{Path: "/t", Methods: MethodTrace},                                // 5
		{Path: "/y/{rest...}", Methods: MethodPut},                        // 6
		{Path: "/y/{p}", Methods: MethodGet},                              // 7
		{Path: "/h", Methods: MethodGet, Host: "a.example.com"},           // 8
		{Path: "/h", Methods: MethodPost},                                 // 9
		{Path: "/only-host", Methods: MethodGet, Host: "a.example.com"},   // 10
		{Path: "/only-head", Methods: MethodHead},                         // 11
		{Path: "/both/{p}", Methods: MethodPatch},                         // 12
		{Path: "/both/{q}", Methods: MethodGet},                           // 13
		{Path: "/both/{p}", Methods: MethodPut, Headers: hdr("X-A", "1")}, // 14
	})
	runCases(t, tab, []matchCase{
		found("GET", "/items", 0),
		found("HEAD", "/items", 0),
		found("POST", "/items", 1),
		notAllowed("DELETE", "/items", get|MethodPost),
		notAllowed("get", "/items", get|MethodPost),
		notAllowed("PROPFIND", "/items", get|MethodPost),
		// A later branch may still allow the method.
		found("DELETE", "/x/static", 3, "p=static"),
		notAllowed("PUT", "/x/static", get|MethodDelete),
		notAllowed("PUT", "/x/other", MethodDelete),
		found("OPTIONS", "/any", 4),
		found("PATCH", "/any", 4),
		notAllowed("TRACE", "/any", DefaultMethods),
		notAllowed("CONNECT", "/any", DefaultMethods),
		found("TRACE", "/t", 5),
		found("PUT", "/y/1", 6, "rest=1"),
		found("GET", "/y/1", 7, "p=1"),
		notAllowed("POST", "/y/1", get|MethodPut),
		notAllowed("POST", "/y/1/2", MethodPut),
		// Candidates whose host fails do not contribute to Allow.
		{probe: probe{method: "PUT", path: "/h", host: "a.example.com"}, want: -1, status: MethodNotAllowed, allow: get | MethodPost},
		{probe: probe{method: "PUT", path: "/h", host: "b.example.com"}, want: -1, status: MethodNotAllowed, allow: MethodPost},
		{probe: probe{method: "GET", path: "/h", host: "b.example.com"}, want: -1, status: MethodNotAllowed, allow: MethodPost},
		{probe: probe{method: "GET", path: "/only-host", host: "b.example.com"}, want: -1, status: NotFound},
		{probe: probe{method: "POST", path: "/only-host", host: "a.example.com"}, want: -1, status: MethodNotAllowed, allow: get},
		found("HEAD", "/only-head", 11),
		notAllowed("GET", "/only-head", MethodHead),
		// Same node, parameter names differ per route.
		found("PATCH", "/both/1", 12, "p=1"),
		found("GET", "/both/1", 13, "q=1"),
		notAllowed("PUT", "/both/1", get|MethodPatch),
		{probe: probe{method: "PUT", path: "/both/1", header: map[string]string{"X-A": "1"}}, want: 14, status: Found, params: []string{"p=1"}},
	})
}

func hdr(kv ...string) map[string]string {
	m := make(map[string]string)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestMatchHost(t *testing.T) {
	tab := mustCompile(t, []Spec{
		{Path: "/h"},                                  // 0: any host
		{Path: "/h", Host: "*.example.com"},           // 1
		{Path: "/h", Host: "API.Example.com"},         // 2
		{Path: "/v6", Host: "[::1]"},                  // 3
		{Path: "/dot", Host: "dot.example.com."},      // 4
		{Path: "/w", Host: "*.EXAMPLE.com"},           // 5
		{Path: "/w", Host: "*.b.example.com"},         // 6
		{Path: "/h", Host: "*.api.example.com"},       // 7
		{Path: "/ip", Host: "127.0.0.1"},              // 8
		{Path: "/deep/{x}", Host: "deep.example.com"}, // 9
		{Path: "/deep/static"},                        // 10
	})
	on := func(host, path string, want int, params ...string) matchCase {
		st := Found
		if want < 0 {
			st = NotFound
		}
		return matchCase{probe: probe{method: "GET", path: path, host: host}, want: want, status: st, params: params}
	}
	runCases(t, tab, []matchCase{
		on("api.example.com", "/h", 2),
		on("API.EXAMPLE.COM", "/h", 2),
		on("api.example.com:8443", "/h", 2),
		on("api.example.com.", "/h", 2),
		on("api.example.com.:80", "/h", 2),
		on("x.example.com", "/h", 1),
		on("x.y.example.com:80", "/h", 1),
		// The longer wildcard suffix is the more specific.
		on("v.api.example.com", "/h", 7),
		on("example.com", "/h", 0),
		on(".example.com", "/h", 0),
		on("x..example.com", "/h", 0),
		on("xexample.com", "/h", 0),
		on("", "/h", 0),
		on("[::1]:8080", "/v6", 3),
		on("[::1]", "/v6", 3),
		on("[::2]:8080", "/v6", -1),
		on("::1", "/v6", -1),
		on("dot.example.com", "/dot", 4),
		on("DOT.example.com:1", "/dot", 4),
		on("a.b.example.com", "/w", 6),
		on("a.c.example.com", "/w", 5),
		on("b.example.com", "/w", 5),
		on("example.com", "/w", -1),
		on("127.0.0.1:9000", "/ip", 8),
		on("127.0.0.2", "/ip", -1),
		// The path decides first: a static segment beats a host
		// predicate on a parameter.
		on("deep.example.com", "/deep/static", 10),
		on("deep.example.com", "/deep/other", 9, "x=other"),
		on("other.example.com", "/deep/static", 10),
	})
}

func TestMatchHeadersAndQuery(t *testing.T) {
	tab := mustCompile(t, []Spec{
		{Path: "/r"}, // 0
		{Path: "/r", Headers: hdr("x-client", "mobile")},                             // 1
		{Path: "/r", Headers: hdr("X-Client", "mobile", "X-Tier", "gold")},           // 2
		{Path: "/r", Query: hdr("version", "2")},                                     // 3
		{Path: "/r", Query: hdr("version", "2", "beta", "1")},                        // 4
		{Path: "/r", Headers: hdr("X-Client", "mobile"), Query: hdr("version", "2")}, // 5
		{Path: "/r", Host: "api.example.com"},                                        // 6
		{Path: "/e", Headers: hdr("X-Empty", "")},                                    // 7
		{Path: "/e", Query: hdr("Version", "2")},                                     // 8
		{Path: "/u", Headers: hdr("User-Agent", "probe/1"), Query: hdr("a", "b c")},  // 9
		{Path: "/u", Headers: hdr("Host", "example.org")},                            // 10
		{Path: "/case", Headers: hdr("X-V", "Mobile")},                               // 11
	})
	with := func(path string, header, query map[string]string, host string, want int) matchCase {
		st := Found
		if want < 0 {
			st = NotFound
		}
		return matchCase{probe: probe{method: "GET", path: path, header: header, query: query, host: host}, want: want, status: st}
	}
	runCases(t, tab, []matchCase{
		with("/r", nil, nil, "", 0),
		with("/r", hdr("X-Client", "mobile"), nil, "", 1),
		with("/r", hdr("x-client", "mobile"), nil, "", 1),
		with("/r", hdr("X-Client", "Mobile"), nil, "", 0),
		with("/r", hdr("X-Client", "mobile", "X-Tier", "gold"), nil, "", 2),
		with("/r", hdr("X-Client", "mobile", "X-Tier", "silver"), nil, "", 1),
		with("/r", nil, hdr("version", "2"), "", 3),
		with("/r", nil, hdr("version", "3"), "", 0),
		with("/r", nil, hdr("Version", "2"), "", 0),
		with("/r", nil, hdr("version", "2", "beta", "1"), "", 4),
		// Headers rank above query arguments.
		with("/r", hdr("X-Client", "mobile"), hdr("version", "2", "beta", "1"), "", 5),
		with("/r", hdr("X-Client", "mobile", "X-Tier", "gold"), hdr("version", "2", "beta", "1"), "", 2),
		// The host ranks above everything else.
		with("/r", hdr("X-Client", "mobile", "X-Tier", "gold"), hdr("version", "2"), "api.example.com", 6),
		// A header wanted empty also holds when absent.
		with("/e", nil, nil, "", 7),
		with("/e", hdr("X-Empty", "x"), hdr("Version", "2"), "", 8),
		with("/e", hdr("X-Empty", "x"), hdr("version", "2"), "", -1),
		with("/u", hdr("User-Agent", "probe/1"), hdr("a", "b c"), "", 9),
		with("/u", hdr("Host", "example.org"), nil, "", 10),
		with("/case", hdr("X-V", "mobile"), nil, "", -1),
	})
}

func TestMatchRanking(t *testing.T) {
	tab := mustCompile(t, []Spec{
		{Path: "/t", Headers: hdr("X-A", "1")},                      // 0
		{Path: "/t", Headers: hdr("X-B", "1")},                      // 1
		{Path: "/t", Headers: hdr("X-C", "1"), Methods: MethodGet},  // 2
		{Path: "/t", Query: hdr("a", "1")},                          // 3
		{Path: "/t", Query: hdr("b", "1"), Methods: DefaultMethods}, // 4
	})
	with := func(method string, header, query map[string]string, want int) matchCase {
		return matchCase{probe: probe{method: method, path: "/t", header: header, query: query}, want: want, status: Found}
	}
	runCases(t, tab, []matchCase{
		// Ties: the first listed wins.
		with("GET", hdr("X-A", "1", "X-B", "1"), nil, 0),
		with("GET", hdr("X-B", "1"), nil, 1),
		// A narrowed method set outranks the default one.
		with("GET", hdr("X-A", "1", "X-B", "1", "X-C", "1"), nil, 2),
		with("POST", hdr("X-A", "1", "X-B", "1", "X-C", "1"), nil, 0),
		// Listing the default methods is not narrowing them.
		with("GET", nil, hdr("a", "1", "b", "1"), 3),
		with("GET", nil, hdr("b", "1"), 4),
	})
}

func TestParams(t *testing.T) {
	tab := mustCompile(t, []Spec{
		{Path: "/x"},
		{Path: "/api/{version}/users/{id}/{rest...}"},
	})
	if got := tab.ParamNames(1); strings.Join(got, ",") != "version,id,rest" {
		t.Errorf("ParamNames(1) = %q", got)
	}
	if got := tab.ParamNames(0); len(got) != 0 {
		t.Errorf("ParamNames(0) = %q", got)
	}
	if tab.ParamNames(-1) != nil || tab.ParamNames(2) != nil {
		t.Error("ParamNames out of range is not nil")
	}
	if tab.Len() != 2 {
		t.Errorf("Len = %d", tab.Len())
	}

	var res Result
	tab.Match(probe{method: "GET", path: "/api/v2/users/42/a/b"}.request(), &res)
	p := &res.Params
	if res.Status != Found || p.Len() != 3 {
		t.Fatalf("got %v with %d params", res.Status, p.Len())
	}
	for name, want := range map[string]string{"version": "v2", "id": "42", "rest": "a/b"} {
		if got := string(p.Get(name)); got != want {
			t.Errorf("Get(%q) = %q, want %q", name, got, want)
		}
	}
	if p.Get("rest...") != nil || p.Get("nope") != nil || p.Get("") != nil {
		t.Error("Get of an unknown name is not nil")
	}
	if string(p.Value(0)) != "v2" || string(p.Value(2)) != "a/b" {
		t.Errorf("Value(0), Value(2) = %q, %q", p.Value(0), p.Value(2))
	}
	if p.Value(-1) != nil || p.Value(3) != nil || p.Name(3) != "" || p.Name(-1) != "" {
		t.Error("out-of-range Value or Name is not empty")
	}
	// Appending to a value must not overwrite the path after it.
	_ = append(p.Value(1), 'X')
	if string(p.Value(2)) != "a/b" {
		t.Error("a value shares capacity with the rest of the path")
	}

	tab.Match(probe{method: "GET", path: "/api/v2/users/42"}.request(), &res)
	if res.Status != Found || p.Value(2) == nil || len(p.Value(2)) != 0 {
		t.Errorf("empty catch-all: %v %q", res.Status, p.Value(2))
	}

	// A miss clears the previous match's parameters.
	tab.Match(probe{method: "GET", path: "/nope"}.request(), &res)
	if res.Route != -1 || p.Len() != 0 || p.Get("id") != nil {
		t.Errorf("after a miss: route %d, %d params", res.Route, p.Len())
	}
	tab.Match(probe{method: "GET", path: "/x"}.request(), &res)
	if res.Route != 0 || p.Len() != 0 {
		t.Errorf("static match: route %d, %d params", res.Route, p.Len())
	}
	p.Reset()
	if p.Len() != 0 {
		t.Error("Reset kept values")
	}
}

func TestMatchNilTableAndRequestParts(t *testing.T) {
	var res Result
	var nilTab *Table
	nilTab.Match(&Request{Path: []byte("/")}, &res)
	if res.Status != NotFound || res.Route != -1 {
		t.Errorf("nil table: %v", res.Status)
	}
	tab := mustCompile(t, []Spec{{Path: "/", Headers: hdr("X-A", ""), Query: hdr("q", "")}})
	tab.Match(&Request{Method: []byte("GET"), Path: []byte("/")}, &res)
	if res.Status != Found {
		t.Errorf("nil header and args: %v", res.Status)
	}
	empty := mustCompile(t, nil)
	empty.Match(&Request{Method: []byte("GET"), Path: []byte("/")}, &res)
	if res.Status != NotFound {
		t.Errorf("empty table: %v", res.Status)
	}
}

func TestStatusString(t *testing.T) {
	for s, want := range map[Status]string{Found: "found", NotFound: "no_route", MethodNotAllowed: "method_not_allowed", 9: "unknown"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q", s, s.String())
		}
	}
}
