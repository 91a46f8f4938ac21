package aggregate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/gateway/edge/route"
	"github.com/edgegate/gateway/pool"
)

// fuzzService is a real pool whose one instance nobody listens on; the
// fuzz targets only compile plans and build requests with it.
func fuzzService(f *testing.F) *pool.Service {
	svc, err := pool.New(pool.Options{Name: "users", Instances: []string{"127.0.0.1:1"}, Timeout: time.Second})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(svc.Close)
	return svc
}

// FuzzMerge runs arbitrary backend answers through the merge of a
// three-call plan with arbitrary call names. The result is always valid
// JSON: an object with one member per call, in call order, holding the
// body byte for byte when the call answered 2xx with a valid,
// unencoded JSON body, and null otherwise; the failed count and X-Partial
// name exactly the null calls.
func FuzzMerge(f *testing.F) {
	svc := fuzzService(f)
	f.Add("profile", "notifications", "orders", []byte(`{"id":1}`), []byte(`[1,2]`), []byte(`"x"`), uint8(0), uint8(0), uint8(0))
	f.Add("a", "b", "c", []byte(`{"a":`), []byte(``), []byte(`null`), uint8(0), uint8(1), uint8(2))
	f.Add("a\"b", "\\", "\u2028", []byte(" {} "), []byte("{}\x00"), []byte("\xef\xbb\xbf{}"), uint8(3), uint8(0), uint8(0))
	f.Add("x", "y", "z", []byte(`1e999`), []byte(`{"a":1}{"b":2}`), []byte(`"\ud800"`), uint8(4), uint8(5), uint8(0))
	f.Fuzz(func(t *testing.T, n0, n1, n2 string, b0, b1, b2 []byte, s0, s1, s2 uint8) {
		names := []string{n0, n1, n2}
		if slices.Contains(names, "") || n0 == n1 || n1 == n2 || n0 == n2 ||
			!utf8.ValidString(n0) || !utf8.ValidString(n1) || !utf8.ValidString(n2) {
			return // call names are distinct keys of a YAML mapping, so UTF-8
		}
		specs := make([]CallSpec, 3)
		for i, n := range names {
			specs[i] = CallSpec{Name: n, Service: svc, Path: "/x"}
		}
		p, err := Compile(specs, time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		st := acquireState(3)
		defer releaseState(st)
		bodies, shapes := [][]byte{b0, b1, b2}, []uint8{s0, s1, s2}
		wantNull := make([]bool, 3)
		for i := range st.slots {
			wantNull[i] = fillSlot(&st.slots[i], bodies[i], shapes[i])
		}
		var resp fasthttp.Response
		failed := p.merge(st, &resp)

		body := resp.Body()
		if !json.Valid(body) {
			t.Fatalf("merge wrote invalid JSON: %q", body)
		}
		keys, values := members(t, body)
		var partial []string
		for i, n := range names {
			if keys[i] != n {
				t.Fatalf("member %d is %q, want the call name %q", i, keys[i], n)
			}
			want := bodies[i]
			if wantNull[i] {
				want = []byte("null")
				partial = append(partial, n)
			}
			if !bytes.Equal(values[i], bytes.TrimSpace(want)) || !bytes.Contains(body, want) {
				t.Fatalf("member %q = %q, want %q as it came", n, values[i], want)
			}
		}
		if len(keys) != 3 || failed != len(partial) {
			t.Fatalf("%d members, failed %d; want 3 and %d", len(keys), failed, len(partial))
		}
		// fasthttp turns control characters in a header value into spaces,
		// so names holding them are checked in the body only.
		if got := string(resp.Header.Peek("X-Partial")); !slices.ContainsFunc(names, hasControl) && got != strings.Join(partial, ",") {
			t.Fatalf("X-Partial %q, want %q", got, strings.Join(partial, ","))
		}
		if resp.StatusCode() != 200 || string(resp.Header.ContentType()) != "application/json" {
			t.Fatalf("status %d, content type %q", resp.StatusCode(), resp.Header.ContentType())
		}
	})
}

// hasControl reports whether s holds an ASCII control character.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f })
}

// fillSlot makes s look like a finished call with body, shaped by shape:
// 0 a 200, 1 a failed call, 2 a 500, 3 a 204, 4 a gzip-encoded 200, 5 a
// 299. It reports whether the merge must write null for it.
func fillSlot(s *slot, body []byte, shape uint8) (null bool) {
	s.resp.SetBody(body)
	switch shape % 6 {
	case 1:
		s.err = errors.New("refused")
		return true
	case 2:
		s.resp.SetStatusCode(500)
		return true
	case 3:
		s.resp.SetStatusCode(204)
	case 4:
		s.resp.Header.SetContentEncoding("gzip")
		return true
	case 5:
		s.resp.SetStatusCode(299)
	}
	return len(body) == 0 || !json.Valid(body)
}

// members returns the names and raw values of a JSON object's members, in
// order.
func members(t *testing.T, body []byte) (keys []string, values [][]byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("result %q is not an object", body)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		keys, values = append(keys, tok.(string)), append(values, bytes.TrimSpace(v))
	}
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("result %q has more after the object", body)
	}
	return keys, values
}

// FuzzCallTemplate compiles arbitrary call paths and expands them with
// arbitrary route parameter, claim and query values. When the template
// compiles and every value it names is present, the request target is the
// template's literal text with each reference replaced by a run of
// unreserved characters and %XX escapes that decodes to the value: no
// value can add a '/', '?', '#', '&' or '=' or end the path early. A call
// is refused exactly when its path, decoded segment by segment as a
// backend would, holds a "." or ".." segment or a '/' or '\' inside one
// (decodesToOtherSegments). The request built from it carries the target
// byte for byte, as the pool sends it.
func FuzzCallTemplate(f *testing.F) {
	svc := fuzzService(f)
	for _, tc := range []struct{ tmpl, param, claim, query string }{
		{"/users/{claims.sub}/items/{id}?page={query.page}", "7 x", "../admin", "2"},
		{"/users/{claims.sub}", "", "..", ""},
		{"/u/{id}{id}", ".", "", ""},
		{"/u/.{claims.sub}", "", ".", ""},
		{"/q?a={query.page}&b={claims.sub}", "", "a&b=c#d", "../x?y"},
		{"/n/{id...}", "a/b/../../c", "", ""},
		{"/{claims.}", "", "", ""},
		{"/{nope}", "", "", ""},
		{"/{id", "", "", ""},
		{"/%2F{id}", "x", "", ""},
	} {
		f.Add(tc.tmpl, tc.param, tc.claim, tc.query)
	}
	tab, err := route.Compile([]route.Spec{{Path: "/d/{id...}"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tmpl, param, claim, query string) {
		if !utf8.ValidString(tmpl) {
			return // call paths come from YAML, which is UTF-8
		}
		p, err := Compile([]CallSpec{{Name: "c", Service: svc, Path: tmpl}}, time.Second, tab.ParamNames(0))
		if err != nil {
			return
		}
		var res route.Result
		tab.Match(&route.Request{Method: []byte("GET"), Path: []byte("/d/" + param)}, &res)
		var args fasthttp.Args
		args.Add("page", query)
		in := Input{Params: &res.Params, Query: &args}
		if claim != "" {
			in.Claims = claims{"sub": claim}
		}

		c := &p.calls[0]
		uri, err := c.tmpl.appendURI(nil, &in)
		if errors.Is(err, errUnsafeValue) {
			raw, rawErr := c.tmpl.appendRaw(nil, &in)
			if rawErr != nil || !decodesToOtherSegments(string(raw)) {
				t.Fatalf("template %q: %q refused as climbing (%v)", tmpl, raw, rawErr)
			}
			return
		}
		if err == nil && decodesToOtherSegments(string(uri)) {
			t.Fatalf("template %q: %q decodes to other segments but was sent", tmpl, uri)
		}
		// A param is a piece of the normalised request path: its valid
		// escapes are kept, so it stands for what they decode to.
		values := map[string]string{"id": paramMeaning(param), "id...": paramMeaning(param), "claims.sub": claim, "query.page": query}
		literals, refs := splitTemplate(tmpl)
		missing := false
		for _, r := range refs {
			missing = missing || values[r] == ""
		}
		if missing != (err != nil) {
			t.Fatalf("template %q with %v: error %v, but a value missing is %v", tmpl, values, err, missing)
		}
		if err != nil {
			return
		}
		checkExpansion(t, string(uri), literals, refs, values)

		if path, _, _ := strings.Cut(tmpl, "?"); !strings.HasPrefix(tmpl, "/") || strings.Contains(path, "//") || strings.ContainsAny(tmpl, " ") || hasControl(tmpl) {
			// Config validation requires call paths to start with /; text
			// fasthttp would not send as written (blanks, control
			// characters) is the template's own, not a value's.
			return
		}
		var s slot
		c.build(&Request{Input: in}, &s)
		s.req.URI().DisablePathNormalizing = true // as the pool's HostClient sends it
		var wire bytes.Buffer
		w := bufio.NewWriter(&wire)
		if err := s.req.Write(w); err != nil {
			t.Fatalf("writing the call's request: %v", err)
		}
		w.Flush()
		// A '#' can only come from the template's own text (values are
		// escaped): fasthttp takes it as the start of a fragment and does
		// not send the rest (config validation refuses it). An empty
		// query, likewise the template's own, is not sent either.
		line, _, _ := strings.Cut(wire.String(), "\r\n")
		target, _, _ := strings.Cut(string(uri), "#")
		if q := strings.IndexByte(target, '?'); q == len(target)-1 {
			target = target[:q]
		}
		if want := "GET " + target + " HTTP/1.1"; line != want {
			t.Fatalf("request line %q, want %q", line, want)
		}
	})
}

// splitTemplate splits a template that compiled into its literal texts
// and the references between them (len(literals) == len(refs)+1).
func splitTemplate(tmpl string) (literals, refs []string) {
	for {
		open := strings.IndexByte(tmpl, '{')
		if open < 0 {
			return append(literals, tmpl), refs
		}
		closing := open + strings.IndexByte(tmpl[open:], '}')
		literals, refs = append(literals, tmpl[:open]), append(refs, tmpl[open+1:closing])
		tmpl = tmpl[closing+1:]
	}
}

// escapedRun is what a value may become in a target.
const escapedRun = `((?:[A-Za-z0-9._~-]|%[0-9A-F]{2})+)`

// checkExpansion matches uri against the template's literals with an
// escaped run for each reference, and checks each run against its value.
func checkExpansion(t *testing.T, uri string, literals, refs []string, values map[string]string) {
	t.Helper()
	var pat strings.Builder
	pat.WriteString("^")
	for i, l := range literals {
		if i > 0 {
			pat.WriteString(escapedRun)
		}
		pat.WriteString(regexp.QuoteMeta(l))
	}
	pat.WriteString("$")
	m := regexp.MustCompile(pat.String()).FindStringSubmatch(uri)
	if m == nil {
		t.Fatalf("target %q is not the template's literals %q with escaped values", uri, literals)
	}
	// Where a run ends cannot always be told from the target ("{id}0{id}"
	// with "00"), so the runs are checked together: the target decodes to
	// the template's text with each reference replaced by its value. A
	// stray '%' in the template's own text could pair with a value's
	// bytes when decoded; such templates are checked by shape only.
	for _, l := range literals {
		if strings.Contains(l, "%") {
			return
		}
	}
	var want strings.Builder
	for i, l := range literals {
		if i > 0 {
			want.WriteString(values[refs[i-1]])
		}
		want.WriteString(l)
	}
	if got, err := url.PathUnescape(uri); err != nil || got != want.String() {
		t.Fatalf("target %q decodes to %q (%v), not %q", uri, got, err, want.String())
	}
}

// decodesToOtherSegments is the reference for climbs: the path of target,
// each segment decoded as a backend would, has a "." or ".." segment or a
// '/' or '\' inside a segment.
func decodesToOtherSegments(target string) bool {
	path, _, _ := strings.Cut(target, "?")
	for _, seg := range strings.Split(path, "/") {
		dec := paramMeaning(seg)
		if dec == "." || dec == ".." || strings.ContainsAny(dec, `/\`) {
			return true
		}
	}
	return false
}

// paramMeaning decodes the valid %XX escapes of p and keeps every other
// byte, a stray '%' included.
func paramMeaning(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) {
			if v, err := strconv.ParseUint(p[i+1:i+3], 16, 8); err == nil && isHex(p[i+1]) && isHex(p[i+2]) {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}
