package edge

import (
	"bytes"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/a", "/a"},
		{"/a/", "/a/"},
		{"//admin", "/admin"},
		{"/a//b///c", "/a/b/c"},
		{"/public/../admin", "/admin"},
		{"/public/./admin", "/public/admin"},
		{"/%2e%2e/admin", "/admin"},
		{"/%2E%2e/%2e/admin", "/admin"},
		{"/public/%2e%2e/admin", "/admin"},
		{"/..", "/"},
		{"/../../a", "/a"},
		{"/a/b/..", "/a/"},
		{"/a/b/.", "/a/b/"},
		{"/a/..b/c.", "/a/..b/c."}, // not dot-segments
		{"/%61dmin", "/admin"},
		{"/ADMIN", "/ADMIN"},
		{"/a%2Fb", "/a%2Fb"},
		{"/a%2fb/..", "/"},
		{"/a%2F..%2Fadmin", "/a%2F..%2Fadmin"}, // one segment: no climbing
		{"/caf%c3%a9", "/caf%C3%A9"},
		{"/a b\"<>", "/a%20b%22%3C%3E"},
		{"/é", "/%C3%A9"},
		{"/%25", "/%25"},
		{"/%3F%23", "/%3F%23"},
		{"/~user/a-b_c.d", "/~user/a-b_c.d"},
		{"/a:b@c!$&'()*+,;=", "/a:b@c!$&'()*+,;="},
		{"*", "/*"},
	} {
		got, ok := normalizePath(nil, []byte(tc.in))
		if !ok || string(got) != tc.want {
			t.Errorf("normalizePath(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
	for _, bad := range []string{"/%", "/%2", "/%zz", "/a%2/b", "/%g0"} {
		if got, ok := normalizePath(nil, []byte(bad)); ok {
			t.Errorf("normalizePath(%q) = %q, want a refusal", bad, got)
		}
	}
}

// FuzzNormalizePath checks the properties the router and the backends rely
// on: the result is in normal form (normalising it again changes nothing),
// starts at the root, has no empty or dot segments, and carries only bytes
// a path may hold bare or as an upper-case escape of a reserved byte.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "//x/./y/", "/%2e%2E/%2f", "/a%2Fb", "/%", "/é ", "/../.."} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := normalizePath([]byte("keep"), raw)
		if !bytes.HasPrefix(got, []byte("keep")) {
			t.Fatalf("dst prefix overwritten: %q", got)
		}
		if !ok {
			return
		}
		p := got[len("keep"):]
		if len(p) == 0 || p[0] != '/' {
			t.Fatalf("%q -> %q: not rooted", raw, p)
		}
		again, ok := normalizePath(nil, p)
		if !ok || !bytes.Equal(again, p) {
			t.Fatalf("%q -> %q -> %q: not idempotent", raw, p, again)
		}
		segs := bytes.Split(p[1:], []byte("/"))
		for i, s := range segs {
			last := i == len(segs)-1
			if (len(s) == 0 && !last) || string(s) == "." || string(s) == ".." {
				t.Fatalf("%q -> %q: segment %q", raw, p, s)
			}
		}
		for i := 0; i < len(p); i++ {
			switch c := p[i]; {
			case c == '/' || pathSafe[c]:
			case c == '%':
				if i+2 >= len(p) {
					t.Fatalf("%q -> %q: truncated escape", raw, p)
				}
				hi, lo := unhex(p[i+1]), unhex(p[i+2])
				if hi < 0 || lo < 0 || p[i+1] != upperHex[hi] || p[i+2] != upperHex[lo] || unreserved[hi<<4|lo] {
					t.Fatalf("%q -> %q: escape %q not in normal form", raw, p, p[i:i+3])
				}
				i += 2
			default:
				t.Fatalf("%q -> %q: bare byte %q", raw, p, c)
			}
		}
	})
}

func BenchmarkNormalizePath(b *testing.B) {
	for _, p := range []string{"/api/users/123", "/api//users/./%31%32%33/../x%2Fy"} {
		b.Run(p, func(b *testing.B) {
			raw := []byte(p)
			dst := make([]byte, 0, 64)
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = normalizePath(dst[:0], raw)
			}
		})
	}
}
