package edge

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawExchange writes raw bytes to the gateway and reads one response.
func rawExchange(t *testing.T, addr, request string) (*http.Response, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading response to %q: %v", request, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func TestRawRequests(t *testing.T) {
	a := startBackend(t, "a")
	f := startGateway(t, `
server: { max_body_bytes: 1024 }
services: { a: { instances: ["{{a}}"] } }
routes:
  - { name: all, match: { path: "/{rest...}" }, service: a }
`, map[string]string{"a": a.addr})
	addr := f.gw.Addr().String()

	// fasthttp would turn the userinfo into an Authorization: Basic header
	// upstream (PITFALLS.md): the request is refused, the connection closed
	// and nothing reaches the backend.
	t.Run("userinfo in Host is refused", func(t *testing.T) {
		for _, req := range []string{
			"GET /x HTTP/1.1\r\nHost: user:pass@evil\r\n\r\n",
			"GET http://user:pass@evil/x HTTP/1.1\r\nHost: a\r\n\r\n", // in the absolute-form target
		} {
			before := a.count()
			c := rawDial(t, addr)
			c.write(req)
			wantRefused(t, c, c.read(), 400, "bad_request", a.count, before)
		}
	})
	t.Run("expect 100-continue over the body limit", func(t *testing.T) {
		resp, body := rawExchange(t, addr, "POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4096\r\n\r\n")
		if resp.StatusCode != 413 {
			t.Fatalf("got %d, want 413 before the body is sent", resp.StatusCode)
		}
		if !strings.Contains(body, `"code":"too_large"`) || resp.Header.Get("X-Trace-ID") == "" {
			t.Fatalf("early refusal without the JSON error and trace id: %q %v", body, resp.Header)
		}
	})
	t.Run("absolute-form target routes and forwards on its own host", func(t *testing.T) {
		resp, _ := rawExchange(t, addr, "GET http://inner.example/x HTTP/1.1\r\nHost: outer.example\r\n\r\n")
		if resp.StatusCode != 200 {
			t.Fatalf("got %d", resp.StatusCode)
		}
		got := a.last(t)
		if got.Host != "inner.example" || got.Header.Get("X-Forwarded-Host") != "inner.example" || got.URI != "/x" {
			t.Fatalf("backend saw host %q, X-Forwarded-Host %q, uri %q", got.Host, got.Header.Get("X-Forwarded-Host"), got.URI)
		}
	})
	t.Run("upstream connection close does not close the client's", func(t *testing.T) {
		a.setHandler(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			w.Write([]byte("ok"))
		})
		defer a.setHandler(nil)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		for i := range 3 {
			io.WriteString(conn, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("request %d on one connection: %v", i, err)
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Close {
				t.Fatalf("request %d: the gateway closed the client connection", i)
			}
		}
	})
}

// A client announces "Trailer: X-User-ID" and sends "X-User-ID: admin"
// after a chunked body, on a route whose JWT maps sub to X-User-ID. Left
// to fasthttp, either the trailer value reaches the backend, or the
// gateway's own X-User-ID is written after the body as a trailer, where a
// backend reading headers does not see it (PITFALLS.md). The backend must
// get X-User-ID once, in the header section, with the token's subject,
// and no trailer section, Trailer header or trailer field at all. The
// recording backend is net/http, which keeps trailers out of its headers,
// so a raw backend checks the bytes on the wire as well.
func TestRawRequestTrailerCannotSmuggleIdentity(t *testing.T) {
	a := startBackend(t, "a")
	wire := make(chan []byte, 1)
	r := startRawBackend(t, func(c net.Conn) {
		_, raw, err := readRequestBytes(c)
		select {
		case wire <- raw:
		default:
		}
		if err == nil {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		}
	})
	t.Setenv(authSecretEnv, authHMACSecret)
	f := startGateway(t, `
auth:
  jwt:
    issuer: "{{iss}}"
    audiences: [api]
    algorithms: [HS256]
    keys: [{ kid: hmac-1, alg: HS256, secret_env: {{env}} }]
    claims_to_headers: { sub: X-User-ID }
services:
  a: { instances: ["{{a}}"], timeout: 2s }
  r: { instances: ["{{r}}"], timeout: 2s }
routes:
  - { name: recorded, match: { path: "/rec/{rest...}" }, service: a, auth: [jwt] }
  - { name: wire, match: { path: "/wire/{rest...}" }, service: r, auth: [jwt] }
`, map[string]string{"a": a.addr, "r": r.addr, "iss": authIssuer, "env": authSecretEnv})
	addr := f.gw.Addr().String()
	token := authSign(t, []byte(authHMACSecret), authHS256Header,
		authClaims("sub", "u1", "iss", authIssuer, "aud", "api", "exp", time.Now().Unix()+3600))

	for _, tc := range []struct {
		name     string
		announce string // the Trailer header
		trailer  string // the trailer section, CRLF-terminated lines
	}{
		// The identity header's own spelling: the PITFALLS.md row.
		{"identity header", "X-User-ID", "X-User-ID: admin\r\n"},
		// A name no identity rule strips: only dropping the announced
		// fields keeps it from being moved into the header section.
		{"identity header and another field", "X-User-ID, X-Smuggled", "X-User-ID: admin\r\nX-Smuggled: admin\r\n"},
	} {
		request := func(path string) string {
			return "POST " + path + " HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + token + "\r\n" +
				"Trailer: " + tc.announce + "\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"5\r\nhello\r\n0\r\n" + tc.trailer + "\r\n"
		}
		t.Run(tc.name+", recording backend", func(t *testing.T) {
			c := rawDial(t, addr)
			c.write(request("/rec/x"))
			if got := c.read(); got.status != 200 {
				t.Fatalf("status %d: %s", got.status, got.body)
			}
			got := a.last(t)
			if got.Body != "hello" {
				t.Errorf("backend body %q, want hello", got.Body)
			}
			ids := authIdentityHeaders(got.Header)
			if v := ids["x-user-id"]; len(ids) != 1 || len(v) != 1 || v[0] != "u1" {
				t.Errorf("backend identity headers %q, want only X-User-ID: u1", ids)
			}
			for _, name := range []string{"Trailer", "X-Smuggled"} {
				if v := got.Header.Values(name); len(v) != 0 {
					t.Errorf("backend received %s: %q", name, v)
				}
			}
		})
		t.Run(tc.name+", bytes on the wire", func(t *testing.T) {
			c := rawDial(t, addr)
			c.write(request("/wire/x"))
			if got := c.read(); got.status != 200 || got.body != "ok" {
				t.Fatalf("status %d: %s", got.status, got.body)
			}
			var raw []byte
			select {
			case raw = <-wire:
			case <-time.After(5 * time.Second):
				t.Fatal("the raw backend received nothing")
			}
			head, rest, ok := strings.Cut(string(raw), "\r\n\r\n")
			if !ok {
				t.Fatalf("no end of the header section in %q", raw)
			}
			var ids []string
			chunked := false
			for _, line := range strings.Split(head, "\r\n")[1:] {
				name, value, _ := strings.Cut(line, ":")
				value = strings.TrimSpace(value)
				switch strings.ToLower(strings.ReplaceAll(name, "_", "-")) {
				case "x-user-id":
					ids = append(ids, value)
				case "trailer", "x-smuggled":
					t.Errorf("forwarded %q", line)
				case "transfer-encoding":
					chunked = strings.EqualFold(value, "chunked")
				}
			}
			if len(ids) != 1 || ids[0] != "u1" {
				t.Errorf("X-User-ID lines in the header section %q, want exactly one u1\n%s", ids, raw)
			}
			// The body is re-framed: Content-Length and "hello", or chunked
			// and ending in the last chunk with an empty trailer section.
			if chunked && !strings.HasSuffix(rest, "\r\n0\r\n\r\n") || !chunked && rest != "hello" {
				t.Errorf("body framing (chunked %v) carries more than the body: %q", chunked, rest)
			}
			if low := strings.ToLower(rest); strings.Contains(low, "user") || strings.Contains(low, "admin") {
				t.Errorf("identity bytes after the header section: %q", rest)
			}
			// And as an HTTP parser reads it.
			req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(raw))))
			if err != nil {
				t.Fatalf("parsing what the backend received: %v\n%q", err, raw)
			}
			body, err := io.ReadAll(req.Body)
			if err != nil || string(body) != "hello" {
				t.Errorf("body %q, %v", body, err)
			}
			if len(req.Trailer) != 0 {
				t.Errorf("trailers %q", req.Trailer)
			}
			if v := req.Header.Values("X-User-ID"); len(v) != 1 || v[0] != "u1" {
				t.Errorf("X-User-ID %q", v)
			}
		})
	}
}
