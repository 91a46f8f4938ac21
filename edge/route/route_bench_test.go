package route

import (
	"strconv"
	"strings"
	"testing"
)

// Package-level sinks keep the compiler from discarding benchmarked work.
var (
	sinkResult Result
	sinkBytes  []byte
	sinkNode   *node
)

// benchSizes are the table sizes every size-swept benchmark runs at.
var benchSizes = []int{10, 1000, 10000}

// genSpecs returns n routes shaped like a real gateway's: each service
// contributes a catch-all, a static health check, a parameter route, a
// two-parameter route under another version, and a static page.
func genSpecs(n int) []Spec {
	specs := make([]Spec, 0, n+5)
	for i := 0; len(specs) < n; i++ {
		svc := "svc" + strconv.Itoa(i)
		specs = append(specs,
			Spec{Path: "/api/v1/" + svc + "/{id}/items/{rest...}"},
			Spec{Path: "/api/v1/" + svc + "/health", Methods: MethodGet},
			Spec{Path: "/api/v1/" + svc + "/{id}", Methods: MethodGet | MethodPut | MethodDelete},
			Spec{Path: "/api/v2/" + svc + "/users/{user}/orders/{order}"},
			Spec{Path: "/static/" + svc + "/index.html"},
		)
	}
	return specs[:n]
}

// benchRequests returns requests that hit the routes of a service in the
// middle of a table of n routes, one of each shape.
func benchRequests(n int) []*Request {
	svc := "svc" + strconv.Itoa(n/5/2)
	return []*Request{
		probe{method: "GET", path: "/api/v1/" + svc + "/12345/items/a/b"}.request(),
		probe{method: "GET", path: "/api/v1/" + svc + "/health"}.request(),
		probe{method: "PUT", path: "/api/v1/" + svc + "/12345"}.request(),
		probe{method: "GET", path: "/api/v2/" + svc + "/users/u-1/orders/o-2"}.request(),
		probe{method: "GET", path: "/static/" + svc + "/index.html"}.request(),
	}
}

// BenchmarkMatch cycles through one request of each route shape; its cost
// should stay nearly flat as the table grows.
func BenchmarkMatch(b *testing.B) {
	for _, n := range benchSizes {
		b.Run("routes="+strconv.Itoa(n), func(b *testing.B) {
			tab := mustCompile(b, genSpecs(n))
			reqs := benchRequests(n)
			var res Result
			for _, r := range reqs {
				if tab.Match(r, &res); res.Status != Found {
					b.Fatalf("%s: %v", r.Path, res.Status)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tab.Match(reqs[i%len(reqs)], &res)
			}
			sinkResult = res
		})
	}
}

// BenchmarkMatchParallel is BenchmarkMatch with every core matching against
// one shared table, as the gateway does.
func BenchmarkMatchParallel(b *testing.B) {
	tab := mustCompile(b, genSpecs(10000))
	reqs := benchRequests(10000)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var res Result
		for i := 0; pb.Next(); i++ {
			tab.Match(reqs[i%len(reqs)], &res)
		}
	})
}

// BenchmarkMatchParams matches a route that captures eight parameters and a
// catch-all in a table of 10,000 routes.
func BenchmarkMatchParams(b *testing.B) {
	specs := append(genSpecs(10000), Spec{Path: "/t/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{rest...}"})
	tab := mustCompile(b, specs)
	r := probe{method: "GET", path: "/t/1/22/333/4444/55555/666666/7777777/88888888/x/y/z"}.request()
	var res Result
	if tab.Match(r, &res); res.Params.Len() != 9 {
		b.Fatalf("%d params", res.Params.Len())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tab.Match(r, &res)
	}
	sinkResult = res
}

// BenchmarkMatchBacktrack matches a path that walks deep into the static
// branch before falling back to the parameter branch.
func BenchmarkMatchBacktrack(b *testing.B) {
	tab := mustCompile(b, append(genSpecs(10000),
		Spec{Path: "/api/v1/svc500/health/deep/x"},
		Spec{Path: "/api/v1/svc500/{id}/deep/y"},
	))
	r := probe{method: "GET", path: "/api/v1/svc500/health/deep/y"}.request()
	var res Result
	if tab.Match(r, &res); res.Route != 10001 {
		b.Fatalf("route %d", res.Route)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tab.Match(r, &res)
	}
	sinkResult = res
}

// BenchmarkMatchPredicates matches a route with a host, a header and a query
// predicate behind a less specific one at the same path.
func BenchmarkMatchPredicates(b *testing.B) {
	tab := mustCompile(b, append(genSpecs(1000),
		Spec{Path: "/api/v2/users/{rest...}", Methods: MethodGet | MethodPost,
			Host: "api.example.com", Headers: hdr("X-Client", "mobile"), Query: hdr("version", "2")},
		Spec{Path: "/api/v2/users/{rest...}"},
	))
	r := probe{method: "GET", path: "/api/v2/users/42/profile", host: "API.example.com:8443",
		header: hdr("X-Client", "mobile", "Accept", "application/json", "User-Agent", "bench"),
		query:  hdr("version", "2", "page", "3")}.request()
	var res Result
	if tab.Match(r, &res); res.Route != 1000 {
		b.Fatalf("route %d", res.Route)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tab.Match(r, &res)
	}
	sinkResult = res
}

// BenchmarkMatchMiss measures the 404 and 405 answers in a table of 10,000
// routes: a miss may walk several branches before giving up.
func BenchmarkMatchMiss(b *testing.B) {
	tab := mustCompile(b, genSpecs(10000))
	for _, bc := range []struct {
		name   string
		r      *Request
		status Status
	}{
		{"unknown-prefix", probe{method: "GET", path: "/nope/nope/nope"}.request(), NotFound},
		{"unknown-service", probe{method: "GET", path: "/api/v1/svc999999/12345"}.request(), NotFound},
		{"deep-miss", probe{method: "GET", path: "/api/v2/svc42/users/u/orders/"}.request(), NotFound},
		{"method", probe{method: "POST", path: "/api/v1/svc42/health"}.request(), MethodNotAllowed},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var res Result
			if tab.Match(bc.r, &res); res.Status != bc.status {
				b.Fatalf("%v", res.Status)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tab.Match(bc.r, &res)
			}
			sinkResult = res
		})
	}
}

// BenchmarkMatchBaselineLinear is the naive alternative the tree replaces:
// scanning every route's pre-split pattern in order (without priorities,
// predicates or allocation). It shows what the tree buys as tables grow.
func BenchmarkMatchBaselineLinear(b *testing.B) {
	for _, n := range benchSizes {
		b.Run("routes="+strconv.Itoa(n), func(b *testing.B) {
			specs := genSpecs(n)
			pats := make([][]segment, len(specs))
			for i, s := range specs {
				p, err := parsePattern(s.Path)
				if err != nil {
					b.Fatal(err)
				}
				pats[i] = p.segs
			}
			reqs := benchRequests(n)
			b.ReportAllocs()
			b.ResetTimer()
			hits := 0
			for i := 0; i < b.N; i++ {
				path := reqs[i%len(reqs)].Path
				for _, segs := range pats {
					if linearMatch(segs, path) {
						hits++
						break
					}
				}
			}
			if hits != b.N {
				b.Fatalf("%d hits of %d", hits, b.N)
			}
		})
	}
}

// linearMatch reports whether path matches segs, the way a linear router
// would test one route.
func linearMatch(segs []segment, path []byte) bool {
	rest := path[1:]
	for i, s := range segs {
		if s.kind == segRest {
			return true
		}
		end := len(rest)
		for j, c := range rest {
			if c == '/' {
				end = j
				break
			}
		}
		seg := rest[:end]
		if s.kind == segStatic && string(seg) != s.text || s.kind == segParam && len(seg) == 0 {
			return false
		}
		if end == len(rest) {
			return i == len(segs)-1
		}
		rest = rest[end+1:]
	}
	return false
}

// BenchmarkChildLookup compares scanning a node's static children with
// looking them up in a map, for k children looked up in turn; linearMax is
// set near the crossover.
func BenchmarkChildLookup(b *testing.B) {
	for _, k := range []int{2, 4, 8, 16, 32} {
		n := &node{}
		segs := make([][]byte, k)
		for i := range segs {
			seg := "svc-" + strconv.Itoa(i*7919)
			n.staticChild(seg)
			segs[i] = []byte(seg)
		}
		b.Run("linear/children="+strconv.Itoa(k), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				seg := segs[i%k]
				for j, key := range n.keys {
					if key == string(seg) {
						sinkNode = n.kids[j]
						break
					}
				}
			}
		})
		m := make(map[string]*node, k)
		for i, key := range n.keys {
			m[key] = n.kids[i]
		}
		b.Run("map/children="+strconv.Itoa(k), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				sinkNode = m[string(segs[i%k])]
			}
		})
	}
}

// BenchmarkTemplate rewrites a matched path into a reused buffer.
func BenchmarkTemplate(b *testing.B) {
	tab := mustCompile(b, []Spec{{Path: "/api/v2/users/{id}/{rest...}"}})
	var res Result
	tab.Match(probe{method: "GET", path: "/api/v2/users/42/orders/7/items"}.request(), &res)
	tmpl, err := CompileTemplate("/users/{id}/{rest}", tab.ParamNames(0))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = tmpl.AppendPath(buf[:0], &res.Params)
	}
	if !strings.HasPrefix(string(buf), "/users/42/orders") {
		b.Fatalf("%q", buf)
	}
	sinkBytes = buf
}
