package edge

import (
	"strings"
	"testing"
)

// TestPathTricks sends paths that spell a protected route another way.
// Each must either reach the protected route (and so meet its auth) or
// nothing; and what the backend receives is the path the route matched.
func TestPathTricks(t *testing.T) {
	a := startBackend(t, "a")
	f := startGateway(t, authJWTAuth+`
services:
  a: { instances: ["{{a}}"], timeout: 2s }
routes:
  - { name: private, match: { path: "/private/{rest...}" }, service: a, auth: [jwt] }
  - { name: public, match: { path: "/public/{rest...}" }, service: a }
  - { name: file, match: { path: "/files/{name}" }, service: a, rewrite: "/store/{name}" }
`, authJWTVars(t, a))
	addr := f.gw.Addr().String()

	refused := []struct{ path, why string }{
		{"/public/../private/x", "dot-segment"},
		{"/public/%2e%2e/private/x", "encoded dot-segment"},
		{"/public/%2E%2E/private/x", "upper-case encoded dot-segment"},
		{"//private/x", "empty segment"},
		{"/public/./../private/x", "mixed dot-segments"},
		{"/%70rivate/x", "encoded unreserved letter"},
	}
	for _, c := range refused {
		t.Run(c.why, func(t *testing.T) {
			before := a.count()
			resp, body := rawExchange(t, addr, "GET "+c.path+" HTTP/1.1\r\nHost: a\r\n\r\n")
			if resp.StatusCode != 401 {
				t.Fatalf("%s: got %d %s, want the private route's 401", c.path, resp.StatusCode, body)
			}
			if n := a.count(); n != before {
				t.Fatalf("%s reached the backend", c.path)
			}
		})
	}

	t.Run("case differs: no route", func(t *testing.T) {
		resp, _ := rawExchange(t, addr, "GET /PRIVATE/x HTTP/1.1\r\nHost: a\r\n\r\n")
		if resp.StatusCode != 404 {
			t.Fatalf("got %d, want 404", resp.StatusCode)
		}
	})
	t.Run("malformed escape", func(t *testing.T) {
		before := a.count()
		resp, body := rawExchange(t, addr, "GET /public/%zz HTTP/1.1\r\nHost: a\r\n\r\n")
		if resp.StatusCode != 400 || !strings.Contains(body, `"bad_request"`) {
			t.Fatalf("got %d %s, want 400 bad_request", resp.StatusCode, body)
		}
		if a.count() != before {
			t.Fatal("a malformed path reached the backend")
		}
	})

	forwarded := []struct{ path, uri, why string }{
		{"/public/a%2Fb", "/public/a%2Fb", "encoded slash stays encoded"},
		{"/public/a%2fb/../c", "/public/c", "encoded slash is one segment"},
		{"/public//x/./y/", "/public/x/y/", "normal form forwarded, trailing slash kept"},
		{"/public/%7euser/%41", "/public/~user/A", "unreserved escapes decoded"},
		{"/public/caf%c3%a9", "/public/caf%C3%A9", "other escapes kept, hex upper-cased"},
		{"/public/x?q=%2F&r=a/../b", "/public/x?q=%2F&r=a/../b", "query untouched"},
		{"/files/a%2Fb", "/store/a%2Fb", "rewrite keeps the param's escape"},
		{"/files/..%2F..%2Fetc", "/store/..%2F..%2Fetc", "rewrite cannot climb"},
	}
	for _, c := range forwarded {
		t.Run(c.why, func(t *testing.T) {
			resp, body := rawExchange(t, addr, "GET "+c.path+" HTTP/1.1\r\nHost: a\r\n\r\n")
			if resp.StatusCode != 200 {
				t.Fatalf("%s: got %d %s", c.path, resp.StatusCode, body)
			}
			if got := a.last(t).URI; got != c.uri {
				t.Fatalf("%s: backend got %q, want %q", c.path, got, c.uri)
			}
		})
	}
}
