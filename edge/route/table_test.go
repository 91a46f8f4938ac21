package route

import (
	"errors"
	"strings"
	"testing"
)

func TestCompileRejectsBadPatterns(t *testing.T) {
	for _, tc := range []struct {
		path string
		msg  string
	}{
		{"", "must start with '/'"},
		{"users", "must start with '/'"},
		{"/a/{rest...}/b", "must be the last segment"},
		{"/a/{rest...}/", "must be the last segment"},
		{"/a/{x", "unclosed '{'"},
		{"/a/x}", "'}' without '{'"},
		{"/a/{x}/{x}", `parameter "x" appears twice`},
		{"/a/{x}/{x...}", `parameter "x" appears twice`},
		{"/a/{}", "empty parameter name"},
		{"/a/{...}", "empty parameter name"},
		{"/a//b", "empty segment"},
		{"//", "empty segment"},
		{"/a/v{x}", "mixes text and a parameter"},
		{"/a/{x}y", "mixes text and a parameter"},
		{"/a/{x y}", `parameter name "x y" has ' '`},
		{"/a/{{x}", `has '{'`},
		{"/a?b=1", "match query arguments with query"},
		{"/a#frag", "match query arguments with query"},
		{"/" + strings.Repeat("{p}/", 0) + "{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}/{j}/{k}/{l}/{m}/{n}/{o}/{p}/{q}", "more than 16 parameters"},
	} {
		_, err := Compile([]Spec{{Path: "/ok"}, {Path: "/ok2"}, {Path: tc.path}})
		var se *SpecError
		if !errors.As(err, &se) || se.Index != 2 || se.Field != "path" || !errors.Is(err, ErrBadPattern) {
			t.Errorf("Compile(%q) error = %v, want a path SpecError for route 2", tc.path, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "route 2: path: ") || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Compile(%q) error = %q, want it to contain %q", tc.path, err, tc.msg)
		}
	}
	// Sixteen parameters are allowed.
	if _, err := Compile([]Spec{{Path: "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}/{j}/{k}/{l}/{m}/{n}/{o}/{p...}"}}); err != nil {
		t.Errorf("16 parameters: %v", err)
	}
}

func TestCompileRejectsBadPredicates(t *testing.T) {
	for _, tc := range []struct {
		spec  Spec
		field string
		msg   string
	}{
		{Spec{Path: "/", Host: "*"}, "host", `use "" for any host`},
		{Spec{Path: "/", Host: "*."}, "host", `use "" for any host`},
		{Spec{Path: "/", Host: "*.."}, "host", "empty label"},
		{Spec{Path: "/", Host: ".example.com"}, "host", "empty label"},
		{Spec{Path: "/", Host: "api.example.com:80"}, "host", "without scheme, port or path"},
		{Spec{Path: "/", Host: "http://api.example.com"}, "host", "without scheme, port or path"},
		{Spec{Path: "/", Host: "a.*.com"}, "host", "whole first label"},
		{Spec{Path: "/", Host: "*.*.com"}, "host", "whole first label"},
		{Spec{Path: "/", Host: "[::1]:80"}, "host", "IPv6"},
		{Spec{Path: "/", Host: "bücher.example"}, "host", "punycode"},
		{Spec{Path: "/", Host: "a b"}, "host", "printable ASCII"},
		{Spec{Path: "/", Headers: hdr("", "x")}, "headers", "not a token"},
		{Spec{Path: "/", Headers: hdr("X A", "x")}, "headers", "not a token"},
		{Spec{Path: "/", Headers: hdr("cookie", "a=b")}, "headers", "without allocating"},
		{Spec{Path: "/", Headers: hdr("X-A", "1", "x-a", "1")}, "headers", "given twice"},
		{Spec{Path: "/", Query: hdr("", "x")}, "query", "empty query"},
		{Spec{Path: "/", Methods: 1 << 12}, "methods", "unknown method bits"},
	} {
		_, err := Compile([]Spec{{Path: "/ok"}, tc.spec})
		var se *SpecError
		if !errors.As(err, &se) || se.Index != 1 || se.Field != tc.field {
			t.Errorf("%+v: error = %v, want a %s SpecError for route 1", tc.spec, err, tc.field)
			continue
		}
		if !strings.HasPrefix(err.Error(), "route 1: "+tc.field+": ") || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: error = %q, want it to contain %q", tc.spec, err, tc.msg)
		}
	}
}

func TestCompileDuplicates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		specs []Spec
		dup   bool
	}{
		{"same path", []Spec{{Path: "/a"}, {Path: "/a"}}, true},
		{"param names differ", []Spec{{Path: "/a/{x}"}, {Path: "/a/{y}"}}, true},
		{"catch-all names differ", []Spec{{Path: "/a/{x...}"}, {Path: "/a/{y...}"}}, true},
		{"default and explicit GET", []Spec{{Path: "/a"}, {Path: "/a", Methods: MethodGet}}, true},
		{"GET implies HEAD", []Spec{{Path: "/a", Methods: MethodGet}, {Path: "/a", Methods: MethodHead}}, true},
		{"host case", []Spec{{Path: "/a", Host: "API.example.com"}, {Path: "/a", Host: "api.example.com."}}, true},
		{"header name case", []Spec{{Path: "/a", Headers: hdr("x-a", "1")}, {Path: "/a", Headers: hdr("X-A", "1")}}, true},
		{"same query", []Spec{{Path: "/a", Query: hdr("v", "1", "w", "2")}, {Path: "/a", Query: hdr("w", "2", "v", "1")}}, true},
		{"disjoint methods", []Spec{{Path: "/a", Methods: MethodGet}, {Path: "/a", Methods: MethodPost}}, false},
		{"other host", []Spec{{Path: "/a", Host: "a.example.com"}, {Path: "/a", Host: "b.example.com"}}, false},
		{"wildcard and exact", []Spec{{Path: "/a", Host: "*.example.com"}, {Path: "/a", Host: "x.example.com"}}, false},
		{"header value", []Spec{{Path: "/a", Headers: hdr("X-A", "1")}, {Path: "/a", Headers: hdr("X-A", "2")}}, false},
		{"query name case", []Spec{{Path: "/a", Query: hdr("v", "1")}, {Path: "/a", Query: hdr("V", "1")}}, false},
		{"param and static", []Spec{{Path: "/a/{x}"}, {Path: "/a/x"}}, false},
		{"param and catch-all", []Spec{{Path: "/a/{x}"}, {Path: "/a/{x...}"}}, false},
		{"trailing slash", []Spec{{Path: "/a"}, {Path: "/a/"}}, false},
	} {
		specs := append([]Spec{{Path: "/first"}}, tc.specs...)
		_, err := Compile(specs)
		if !tc.dup {
			if err != nil {
				t.Errorf("%s: unexpected error %v", tc.name, err)
			}
			continue
		}
		var se *SpecError
		if !errors.As(err, &se) || se.Index != 2 || !errors.Is(err, ErrDuplicate) {
			t.Errorf("%s: error = %v, want a duplicate error for route 2", tc.name, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "route 2: ") || !strings.Contains(err.Error(), "route 1") {
			t.Errorf("%s: error = %q, want it to name routes 2 and 1", tc.name, err)
		}
	}
}

func TestCompileDuplicateMessage(t *testing.T) {
	_, err := Compile([]Spec{{Path: "/a/{x}", Methods: MethodGet | MethodPost}, {Path: "/a/{y}", Methods: MethodPost | MethodPut}})
	const want = "route 1: route: duplicate route: same path, host, headers and query as route 0, and both allow POST"
	if err == nil || err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}
