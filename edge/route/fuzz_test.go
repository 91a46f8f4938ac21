package route

import (
	"regexp"
	"strings"
	"testing"
	"unsafe"

	"github.com/valyala/fasthttp"
)

// FuzzCompileMatch feeds arbitrary route tables and requests through Compile
// and Match. Neither may panic; a Found result's parameters must be
// sub-slices of the request path; and every answer must agree with
// refMatch, a linear matcher written straight from the documented
// semantics, with no tree and no backtracking to get wrong.
//
// A table is one route per line: "PATH [METHODS [HOST [X-F [Q]]]]", where
// METHODS is a byte whose low bits pick methods ("-" or 0 for the default
// set), HOST is "-" for any host, and X-F and Q, when given, are the values
// the route wants for the header X-F and the query argument q. The request
// carries value as both its X-F header and its q argument.
func FuzzCompileMatch(f *testing.F) {
	for _, seed := range []struct{ routes, method, path, host, value string }{
		{"/\n/users\n/users/{id}\n/users/me\n/files/{rest...}", "GET", "/users/me", "", ""},
		{"/users/{id}/orders/{order}\n/users/me", "GET", "/users/me/orders/7", "", ""},
		{"/a/b/c\n/a/{x}/d\n/a/{rest...}", "GET", "/a/b/d", "", ""},
		{"/a/b/c\n/a/{x}/d\n/a/{rest...}", "GET", "/a/b/x/", "", ""},
		{"/files/{rest...}", "GET", "/files", "", ""},
		{"/{rest...}\n/", "GET", "/", "", ""},
		{"/items \x01\n/items \x04", "DELETE", "/items", "", ""},
		{"/h \x01 a.example.com\n/h \x04", "PUT", "/h", "A.example.com:80", ""},
		{"/h - *.example.com\n/h - api.example.com\n/h", "GET", "/h", "x.api.example.com.", ""},
		{"/r - - mobile\n/r - - - 2\n/r - - mobile 2\n/r", "GET", "/r", "", "mobile"},
		{"/v6 - [::1]", "GET", "/v6", "[::1]:8080", ""},
		{"/a/{x}/{x}\n/{", "GET", "/a/1/2", "", ""},
		{"/x/{a}/{b}/{c}/", "GET", "/x/1/2/3/", "", ""},
		{"/users/{id}/orders/{order}", "GET", "/users//orders/7", "", ""},
		{"/x/{a}\n/x/{b...}", "GET", "/x//", "", ""},
		{"/", "GET", "", "", ""},
		{"/a", "get", "a", ":", "\r\n"},
	} {
		f.Add(seed.routes, seed.method, seed.path, seed.host, seed.value)
	}
	f.Fuzz(func(t *testing.T, routes, method, path, host, value string) {
		specs := parseFuzzRoutes(routes)
		tab, err := Compile(specs)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "route ") {
				t.Fatalf("error without the route number: %v", err)
			}
			return
		}
		r := &Request{Method: []byte(method), Path: []byte(path), Host: []byte(host),
			Header: &fasthttp.RequestHeader{}, Args: &fasthttp.Args{}}
		r.Header.Set("X-F", value)
		r.Args.Set("q", value)

		var res Result
		tab.Match(r, &res)
		checkResult(t, tab, r, &res)

		want := refMatch(specs, r)
		if res.Route != want.route || res.Status != want.status || res.Allow != want.allow {
			t.Fatalf("Match = route %d %v allow %q; reference = route %d %v allow %q",
				res.Route, res.Status, res.Allow, want.route, want.status, want.allow)
		}
		for i := 0; i < res.Params.Len(); i++ {
			if string(res.Params.Value(i)) != want.params[i] {
				t.Fatalf("param %d = %q, reference %q", i, res.Params.Value(i), want.params[i])
			}
		}
	})
}

// parseFuzzRoutes decodes the fuzzer's route table; see FuzzCompileMatch.
func parseFuzzRoutes(routes string) []Spec {
	var specs []Spec
	for _, line := range strings.Split(routes, "\n") {
		if len(specs) == 32 {
			break
		}
		fields := strings.Split(line, " ")
		s := Spec{Path: fields[0]}
		if len(fields) > 1 && fields[1] != "-" && fields[1] != "" {
			s.Methods = Methods(fields[1][0]) & DefaultMethods
		}
		if len(fields) > 2 && fields[2] != "-" {
			s.Host = fields[2]
		}
		if len(fields) > 3 && fields[3] != "-" {
			s.Headers = map[string]string{"X-F": fields[3]}
		}
		if len(fields) > 4 && fields[4] != "-" {
			s.Query = map[string]string{"q": fields[4]}
		}
		specs = append(specs, s)
	}
	return specs
}

// checkResult verifies what must hold of any result, whatever the table.
func checkResult(t *testing.T, tab *Table, r *Request, res *Result) {
	t.Helper()
	switch res.Status {
	case Found:
		if res.Route < 0 || res.Route >= tab.Len() || res.Allow != 0 {
			t.Fatalf("Found with route %d of %d, allow %q", res.Route, tab.Len(), res.Allow)
		}
		names := tab.ParamNames(res.Route)
		if res.Params.Len() != len(names) {
			t.Fatalf("%d params for a route with %d", res.Params.Len(), len(names))
		}
		base := uintptr(unsafe.Pointer(unsafe.SliceData(r.Path)))
		for i, name := range names {
			v := res.Params.Value(i)
			p := uintptr(unsafe.Pointer(unsafe.SliceData(v)))
			if v == nil || len(v) > 0 && (p < base || p+uintptr(len(v)) > base+uintptr(len(r.Path))) {
				t.Fatalf("param %d %q is not a sub-slice of the path %q", i, v, r.Path)
			}
			if g := res.Params.Get(name); res.Params.Name(i) != name || len(g) != len(v) || unsafe.SliceData(g) != unsafe.SliceData(v) {
				t.Fatalf("param %d is named %q, want %q; Get = %q", i, res.Params.Name(i), name, g)
			}
		}
	case NotFound, MethodNotAllowed:
		if res.Route != -1 || res.Params.Len() != 0 || (res.Status == MethodNotAllowed) != (res.Allow != 0) {
			t.Fatalf("%v with route %d, %d params, allow %q", res.Status, res.Route, res.Params.Len(), res.Allow)
		}
	default:
		t.Fatalf("status %d", res.Status)
	}
}

// refResult is refMatch's answer.
type refResult struct {
	route  int
	status Status
	allow  Methods
	params []string
}

// refMatch matches r against every spec in turn and then picks the winner
// the way the documentation states: among routes whose path, host, headers,
// query and method hold, the one whose pattern is smallest segment by
// segment in the order static < end of path < {param} < {rest...}; among
// equal patterns, the most specific, then the first listed. It assumes the
// specs compiled.
func refMatch(specs []Spec, r *Request) refResult {
	res := refResult{route: -1, status: NotFound}
	var bestKinds []int
	method := ParseMethod(r.Method)
	for i := range specs {
		s := &specs[i]
		pat, _ := parsePattern(s.Path)
		vals, kinds, ok := refPath(pat.segs, string(r.Path))
		if !ok || !refHost(s.Host, string(r.Host)) ||
			!refPairs(s.Headers, func(k string) []byte { return r.Header.Peek(k) }) ||
			!refPairs(s.Query, func(k string) []byte { return r.Args.Peek(k) }) {
			continue
		}
		methods := s.Methods.withImplied()
		if methods == 0 {
			methods = DefaultMethods
		}
		if methods&method == 0 {
			res.allow |= methods
			continue
		}
		if res.status == Found {
			if c := compareKinds(kinds, bestKinds); c > 0 || c == 0 && !refMoreSpecific(s, &specs[res.route]) {
				continue
			}
		}
		res = refResult{route: i, status: Found, params: vals}
		bestKinds = kinds
	}
	if res.status != Found && res.allow != 0 {
		res.status = MethodNotAllowed
	}
	if res.status == Found {
		res.allow = 0
	}
	return res
}

// refPath matches a parsed pattern against a path without any tree. kinds
// records, per position, static 0, end of path 1, {param} 2, {rest...} 3.
func refPath(segs []segment, path string) (vals []string, kinds []int, ok bool) {
	if !strings.HasPrefix(path, "/") {
		return nil, nil, false
	}
	rest, done := path[1:], false
	for _, s := range segs {
		if s.kind == segRest {
			if done {
				rest = ""
			}
			return append(vals, rest), append(kinds, 3), true
		}
		if done {
			return nil, nil, false
		}
		seg, tail, more := strings.Cut(rest, "/")
		switch {
		case s.kind == segStatic && seg == s.text:
			kinds = append(kinds, 0)
		case s.kind == segParam && seg != "":
			vals = append(vals, seg)
			kinds = append(kinds, 2)
		default:
			return nil, nil, false
		}
		rest, done = tail, !more
	}
	return vals, append(kinds, 1), done
}

func compareKinds(a, b []int) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] - b[i]
		}
	}
	return len(a) - len(b)
}

// refHost restates the host rules with the strings package.
func refHost(want, host string) bool {
	if want == "" {
		return true
	}
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i >= 0 {
			host = host[:i+1]
		}
	} else {
		if i := strings.LastIndexByte(host, ':'); i >= 0 {
			host = host[:i]
		}
		host = strings.TrimSuffix(host, ".")
	}
	host = refLower(host)
	want = strings.ToLower(strings.TrimSuffix(want, "."))
	if suffix, ok := strings.CutPrefix(want, "*"); ok {
		prefix, ok := strings.CutSuffix(host, suffix)
		return ok && prefix != "" && !strings.HasPrefix(prefix, ".") && !strings.HasSuffix(prefix, ".")
	}
	return host == want
}

// refLower lower-cases ASCII letters only, as hosts on the wire are ASCII.
func refLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

func refPairs(want map[string]string, peek func(string) []byte) bool {
	for k, v := range want {
		if string(peek(k)) != v {
			return false
		}
	}
	return true
}

// refMoreSpecific reports whether a outranks b, b listed first.
func refMoreSpecific(a, b *Spec) bool {
	hostRank := func(h string) (int, int) {
		switch {
		case h == "":
			return 0, 0
		case strings.HasPrefix(h, "*."):
			return 1, len(strings.TrimSuffix(h, "."))
		}
		return 2, 0
	}
	narrowed := func(m Methods) bool { return m != 0 && m.withImplied() != DefaultMethods }
	ak, al := hostRank(a.Host)
	bk, bl := hostRank(b.Host)
	switch {
	case ak != bk:
		return ak > bk
	case al != bl:
		return al > bl
	case len(a.Headers) != len(b.Headers):
		return len(a.Headers) > len(b.Headers)
	case len(a.Query) != len(b.Query):
		return len(a.Query) > len(b.Query)
	}
	return narrowed(a.Methods) && !narrowed(b.Methods)
}

// FuzzTemplate compiles arbitrary rewrite templates against the parameters
// of an arbitrary pattern and applies them to the parameters of an
// arbitrary matched path. CompileTemplate must refuse or accept without
// panicking; an accepted template must print back (String) to a template
// that compiles to itself, and AppendPath must equal refExpand, which
// replaces each reference with a regular expression instead of the
// compiled parts, and must leave the bytes already in dst alone.
//
// The Template guarantees no more than that: it copies values as they are
// and does not escape them. The handler escapes the rewritten path (its
// normal form, edge/path.go) before it goes upstream, and config validation makes sure a rewrite
// starts with '/' and holds no '?' or '#'. For such templates the output
// starts with '/', and every '?' and '#' in it came from a value.
func FuzzTemplate(f *testing.F) {
	for _, tc := range []struct{ pattern, tmpl, path string }{
		{"/api/{id}/{rest...}", "/users/{rest}", "/api/42/orders/7"},
		{"/api/{id}/{rest...}", "/u/{id}/x/{rest...}", "/api/42/"},
		{"/a/{x}", "{x}{x}", "/a/%3F"},
		{"/a/{x}", "/q?x={x}", "/a/b"},
		{"/a/{x}", "/{x}/}", "/a/b"},
		{"/a/{x}", "/{{x}}", "/a/b"},
		{"/a/{x}", "/{y}", "/a/b"},
		{"/a/{x}", "/{}", "/a/b"},
		{"/a/{x}", "/{x...", "/a/b"},
		{"/f/{rest...}", "/g/{rest}", "/f/../../etc?#"},
		{"/", "", "/"},
	} {
		f.Add(tc.pattern, tc.tmpl, tc.path)
	}
	f.Fuzz(func(t *testing.T, pattern, tmpl, path string) {
		tab, err := Compile([]Spec{{Path: pattern}})
		if err != nil {
			return
		}
		names := tab.ParamNames(0)
		tp, err := CompileTemplate(tmpl, names)
		if err != nil {
			if !strings.Contains(err.Error(), "template") {
				t.Fatalf("error does not name the template: %v", err)
			}
			return
		}
		if tp.IsZero() != (tmpl == "") {
			t.Fatalf("CompileTemplate(%q).IsZero() = %v", tmpl, tp.IsZero())
		}
		again, err := CompileTemplate(tp.String(), names)
		if err != nil || again.String() != tp.String() {
			t.Fatalf("String %q of %q does not compile back to itself: %q, %v", tp.String(), tmpl, again.String(), err)
		}

		var res Result
		tab.Match(&Request{Method: []byte("GET"), Path: []byte(path)}, &res)
		if res.Status != Found {
			return
		}
		values := make(map[string]string, len(names))
		for i, n := range names {
			values[n] = string(res.Params.Value(i))
		}
		got := tp.AppendPath([]byte("prefix"), &res.Params)
		want := "prefix" + refExpand(tmpl, values)
		if string(got) != want {
			t.Fatalf("AppendPath(%q) with %v = %q, want %q", tmpl, values, got, want)
		}
		if strings.HasPrefix(tmpl, "/") && !strings.ContainsAny(tmpl, "?#") {
			out := string(got[len("prefix"):])
			if !strings.HasPrefix(out, "/") {
				t.Fatalf("template %q gave %q, which does not start with /", tmpl, out)
			}
			fromValues := 0
			for _, ref := range refReference.FindAllStringSubmatch(tmpl, -1) {
				fromValues += strings.Count(values[ref[1]], "?") + strings.Count(values[ref[1]], "#")
			}
			if n := strings.Count(out, "?") + strings.Count(out, "#"); n != fromValues {
				t.Fatalf("template %q gave %q: %d of '?' and '#', its values hold %d", tmpl, out, n, fromValues)
			}
		}
	})
}

// refReference matches one reference of a valid template.
var refReference = regexp.MustCompile(`\{([^{}]*?)(?:\.\.\.)?\}`)

// refExpand expands a template that CompileTemplate accepted, by regular
// expression.
func refExpand(tmpl string, values map[string]string) string {
	return refReference.ReplaceAllStringFunc(tmpl, func(ref string) string {
		return values[refReference.FindStringSubmatch(ref)[1]]
	})
}
