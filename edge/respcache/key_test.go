package respcache

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestAppendKeyUnforgeable feeds pairs of requests that a key built with
// separators would confuse.
func TestAppendKeyUnforgeable(t *testing.T) {
	type parts struct {
		route, path, query string
		vary               []string
	}
	build := func(p parts) []byte {
		vary := make([][]byte, len(p.vary))
		for i, v := range p.vary {
			vary[i] = []byte(v)
		}
		return AppendKey(nil, p.route, []byte(p.path), []byte(p.query), vary...)
	}
	for _, pair := range [][2]parts{
		{{route: "a", path: "/x?y"}, {route: "a", path: "/x", query: "y"}},
		{{route: "a", path: "/x", query: "u=1", vary: []string{""}}, {route: "a", path: "/x", query: "u=1"}},
		{{route: "a", path: "/x", vary: []string{"alice", "bob"}}, {route: "a", path: "/x", vary: []string{"alicebob", ""}}},
		{{route: "a", path: "/x", vary: []string{"alice\x00"}}, {route: "a", path: "/x", vary: []string{"alice", ""}}},
		{{route: "a|b", path: "/x"}, {route: "a", path: "b|/x"}},
		{{route: "ab", path: "/x"}, {route: "a", path: "b/x"}},
		{{route: "a", path: "/x", vary: []string{"\x01u"}}, {route: "a", path: "/x", vary: []string{"", "u"}}},
	} {
		if a, b := build(pair[0]), build(pair[1]); bytes.Equal(a, b) {
			t.Errorf("%+v and %+v share the key %q", pair[0], pair[1], a)
		}
	}
	if a, b := build(parts{route: "a", path: "/x", vary: []string{"u"}}), build(parts{route: "a", path: "/x", vary: []string{"u"}}); !bytes.Equal(a, b) {
		t.Errorf("equal requests have keys %q and %q", a, b)
	}
	prefix := []byte("prefix")
	if got := AppendKey(prefix, "a", nil, nil); !bytes.HasPrefix(got, []byte("prefix")) || len(got) <= len(prefix) {
		t.Errorf("AppendKey did not append: %q", got)
	}
}

// FuzzAppendKey checks that distinct parts always give distinct keys.
func FuzzAppendKey(f *testing.F) {
	f.Add("r", []byte("/x"), []byte("q"), []byte("u"), "r", []byte("/x"), []byte(""), []byte("qu"))
	f.Add("r", []byte("/x\x01"), []byte(""), []byte(""), "r", []byte("/x"), []byte("\x01"), []byte(""))
	f.Fuzz(func(t *testing.T, r1 string, p1, q1, v1 []byte, r2 string, p2, q2, v2 []byte) {
		same := r1 == r2 && bytes.Equal(p1, p2) && bytes.Equal(q1, q2) && bytes.Equal(v1, v2)
		k1 := AppendKey(nil, r1, p1, q1, v1)
		k2 := AppendKey(nil, r2, p2, q2, v2)
		if bytes.Equal(k1, k2) != same {
			t.Fatalf("parts equal %v but keys equal %v: %q %q", same, !same, k1, k2)
		}
	})
}

func TestRuleAppendKey(t *testing.T) {
	r, err := NewRule("users", time.Second, []string{"user", "header:x-tenant", "header:Accept-Language"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.ByUser || len(r.Headers) != 2 || r.Headers[0] != "X-Tenant" || r.Headers[1] != "Accept-Language" {
		t.Fatalf("rule %+v", r)
	}
	newReq := func(uri, host, tenant string) *fasthttp.Request {
		req := &fasthttp.Request{}
		req.SetRequestURI(uri)
		req.Header.SetHost(host)
		if tenant != "" {
			req.Header.Set("X-Tenant", tenant)
		}
		return req
	}
	base := r.AppendKey(nil, newReq("/u/1?a=1", "api.example.com", "t1"), []byte("alice"))
	want := AppendKey(nil, "users", []byte("/u/1"), []byte("a=1"),
		[]byte("api.example.com"), []byte("alice"), []byte("t1"), nil)
	if !bytes.Equal(base, want) {
		t.Errorf("Rule.AppendKey = %q, want %q", base, want)
	}
	for name, other := range map[string][]byte{
		"other user":    r.AppendKey(nil, newReq("/u/1?a=1", "api.example.com", "t1"), []byte("bob")),
		"other tenant":  r.AppendKey(nil, newReq("/u/1?a=1", "api.example.com", "t2"), []byte("alice")),
		"no tenant":     r.AppendKey(nil, newReq("/u/1?a=1", "api.example.com", ""), []byte("alice")),
		"other host":    r.AppendKey(nil, newReq("/u/1?a=1", "evil.example.com", "t1"), []byte("alice")),
		"other query":   r.AppendKey(nil, newReq("/u/1?a=2", "api.example.com", "t1"), []byte("alice")),
		"encoded slash": r.AppendKey(nil, newReq("/u%2F1?a=1", "api.example.com", "t1"), []byte("alice")),
		"dot segment":   r.AppendKey(nil, newReq("/u/x/../1?a=1", "api.example.com", "t1"), []byte("alice")),
	} {
		if bytes.Equal(other, base) {
			t.Errorf("%s: same key as the base request", name)
		}
	}
	// Without vary by user, the subject is not part of the key.
	shared := &Rule{Route: "users", TTL: time.Second}
	if a, b := shared.AppendKey(nil, newReq("/u", "h", ""), []byte("alice")), shared.AppendKey(nil, newReq("/u", "h", ""), []byte("bob")); !bytes.Equal(a, b) {
		t.Errorf("route without vary by user has per-user keys")
	}
}

func TestNewRuleErrors(t *testing.T) {
	for _, c := range []struct {
		ttl  time.Duration
		vary []string
	}{
		{0, nil},
		{-time.Second, nil},
		{time.Second, []string{"users"}},
		{time.Second, []string{"header:"}},
		{time.Second, []string{"header:a b"}},
		{time.Second, []string{"cookie:x"}},
	} {
		if r, err := NewRule("r", c.ttl, c.vary); err == nil {
			t.Errorf("NewRule(%v, %q) = %+v, want an error", c.ttl, c.vary, r)
		}
	}
	if _, err := NewRule("r", time.Second, []string{"nobody"}); !errors.Is(err, ErrBadVary) {
		t.Errorf("bad vary: %v, want ErrBadVary", err)
	}
}
