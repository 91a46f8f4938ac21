//go:build !race

package route

import (
	"testing"
)

// TestMatchDoesNotAllocate holds Match to its promise for every outcome and
// every kind of predicate: the gateway serves a request without allocating,
// and the route table is on that path.
func TestMatchDoesNotAllocate(t *testing.T) {
	tab := mustCompile(t, []Spec{
		{Path: "/"},
		{Path: "/users/{id}", Methods: MethodGet},
		{Path: "/users/me"},
		{Path: "/users/{id}/orders/{order}"},
		{Path: "/files/{rest...}"},
		{Path: "/api/v2/users/{rest...}", Methods: MethodGet | MethodPost,
			Host: "api.example.com", Headers: hdr("X-Client", "mobile"), Query: hdr("version", "2")},
		{Path: "/api/v2/users/{rest...}", Host: "*.example.com"},
	})
	// Many static children, so that the map lookup is measured too.
	specs := make([]Spec, 0, 64)
	for _, s := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"} {
		specs = append(specs, Spec{Path: "/wide/" + s})
	}
	wide := mustCompile(t, specs)

	for _, tc := range []struct {
		tab *Table
		p   probe
	}{
		{tab, probe{method: "GET", path: "/"}},
		{tab, probe{method: "GET", path: "/users/42"}},
		{tab, probe{method: "GET", path: "/users/me/orders/7"}},
		{tab, probe{method: "GET", path: "/files/a/b/c"}},
		{tab, probe{method: "DELETE", path: "/users/42"}},
		{tab, probe{method: "GET", path: "/nope/nope"}},
		{tab, probe{method: "POST", path: "/api/v2/users/42/orders", host: "API.example.com:8443",
			header: hdr("X-Client", "mobile"), query: hdr("version", "2")}},
		{tab, probe{method: "PUT", path: "/api/v2/users/42", host: "api.example.com",
			header: hdr("X-Client", "mobile"), query: hdr("version", "2")}},
		{tab, probe{method: "GET", path: "/api/v2/users/42", host: "x.example.com"}},
		{wide, probe{method: "GET", path: "/wide/k"}},
		{wide, probe{method: "GET", path: "/wide/z"}},
	} {
		r := tc.p.request()
		var res Result
		allocs := testing.AllocsPerRun(200, func() {
			tc.tab.Match(r, &res)
		})
		if allocs != 0 {
			t.Errorf("%s %s%s: %v allocations per Match, want 0", tc.p.method, tc.p.host, tc.p.path, allocs)
		}
	}
}

func TestTemplateAndAllowDoNotAllocate(t *testing.T) {
	tab := mustCompile(t, []Spec{{Path: "/api/v2/users/{id}/{rest...}"}})
	r := probe{method: "GET", path: "/api/v2/users/42/orders/7"}.request()
	var res Result
	tab.Match(r, &res)
	tmpl, err := CompileTemplate("/users/{id}/{rest}", tab.ParamNames(0))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 128)
	if allocs := testing.AllocsPerRun(200, func() {
		buf = tmpl.AppendPath(buf[:0], &res.Params)
	}); allocs != 0 {
		t.Errorf("AppendPath: %v allocations, want 0", allocs)
	}
	if allocs := testing.AllocsPerRun(200, func() {
		buf = AllMethods.AppendAllow(buf[:0])
	}); allocs != 0 {
		t.Errorf("AppendAllow: %v allocations, want 0", allocs)
	}
	if allocs := testing.AllocsPerRun(200, func() {
		_ = res.Params.Get("rest")
	}); allocs != 0 {
		t.Errorf("Params.Get: %v allocations, want 0", allocs)
	}
}
