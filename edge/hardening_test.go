package edge

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// The hardening suite: raw bytes written to a started gateway over TCP, the
// answer read back, and for every refused request three checks: the
// status and JSON error of CONTRACT.md, the connection closed afterwards
// where the stream can no longer be trusted, and a backend that received
// nothing. Each case is a row of PITFALLS.md or a framing the RFCs call
// ambiguous; most would pass through fasthttp with its defaults.

// rawClient is one client connection written to in raw bytes.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

// rawReply is one response read from a rawClient.
type rawReply struct {
	status int
	header http.Header
	body   string
	close  bool // the response said Connection: close
}

func (r rawReply) response() response {
	return response{status: r.status, header: r.header, body: r.body}
}

func rawDial(t *testing.T, addr string) *rawClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawClient{t: t, conn: conn, br: bufio.NewReader(conn)}
}

func (c *rawClient) write(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("writing %q: %v", s, err)
	}
}

// read reads one response; HEAD responses are not used by the suite.
func (c *rawClient) read() rawReply {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf("reading a response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.t.Fatalf("reading a response body: %v", err)
	}
	return rawReply{status: resp.StatusCode, header: resp.Header, body: string(b), close: resp.Close}
}

// closed reports whether the gateway has closed the connection: a read
// ends with EOF (or a reset) instead of waiting.
func (c *rawClient) closed(within time.Duration) bool {
	c.conn.SetReadDeadline(time.Now().Add(within))
	defer c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.br.ReadByte()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	if err == nil {
		c.t.Fatal("the gateway sent bytes nobody asked for")
	}
	return true
}

// wantRefused checks a refusal: the status and JSON error, the connection
// closed, and a backend count that did not move.
func wantRefused(t *testing.T, c *rawClient, got rawReply, status int, code string, seen func() int, before int) {
	t.Helper()
	wantError(t, got.response(), status, code)
	if !got.close {
		t.Error("refusal without Connection: close")
	}
	if !c.closed(2 * time.Second) {
		t.Error("connection left open after the refusal")
	}
	if n := seen(); n != before {
		t.Errorf("backend received %d request(s) of a refused one", n-before)
	}
}

// wantRefusedBeforeContinue sends head with "Expect: 100-continue" and
// checks that the first answer is the final 400 with Connection: close,
// never 100, and that the backend count did not move: the client was not
// invited to send body.
func wantRefusedBeforeContinue(t *testing.T, addr, head, body string, seen func() int) {
	t.Helper()
	before := seen()
	code, resp, got := authExpectExchange(t, addr, head, body)
	if code != 400 || resp.StatusCode != 400 || !resp.Close || !strings.Contains(got, `"code":"bad_request"`) {
		t.Fatalf("first answer %d, final %d %q, close %v; want 400 and close, never 100", code, resp.StatusCode, got, resp.Close)
	}
	if seen() != before {
		t.Fatal("backend received the request")
	}
}

// hardeningGateway is the gateway most cases run against: one catch-all
// route to a recording backend, limits small enough to reach.
func hardeningGateway(t *testing.T, server string, opts ...func(*Options)) (*gatewayFixture, *backend) {
	t.Helper()
	a := startBackend(t, "a")
	f := startGateway(t, `
server: `+server+`
services: { a: { instances: ["{{a}}"], timeout: 2s } }
routes:
  - { name: all, match: { path: "/{rest...}" }, service: a }
`, map[string]string{"a": a.addr}, opts...)
	return f, a
}

func (b *backend) count() int { return len(b.requests()) }

func TestHardeningFraming(t *testing.T) {
	f, a := hardeningGateway(t, `{ max_body_bytes: 1024, read_timeout: 1s }`)
	addr := f.gw.Addr().String()
	const post = "POST /x HTTP/1.1\r\nHost: a\r\n"
	const get = "GET /x HTTP/1.1\r\nHost: a\r\n"

	for _, tc := range []struct{ name, req string }{
		{"content-length and transfer-encoding", post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		{"transfer-encoding and content-length", post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		{"two differing content-lengths", post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
		{"two equal content-lengths", post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
		{"content-length list", post + "Content-Length: 5, 5\r\n\r\nhello"},
		{"xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		{"space before colon", post + "Transfer-Encoding : chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		{"chunked, identity", post + "Transfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		{"gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		{"identity with content-length", post + "Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello"},
		{"identity alone", post + "Transfer-Encoding: identity\r\n\r\n"},
		{"two transfer-encodings", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		{"transfer-encoding on HTTP/1.0", "POST /x HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		{"invalid chunk size", post + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"},
		{"negative chunk size", post + "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"},
		{"chunk shorter than its size", post + "Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"},
		{"bare LF after a header", get + "X-A: b\nX-B: c\r\n\r\n"},
		{"bare LF after Host", "GET /x HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n"},
		{"bare CR in a value", get + "X-A: b\rX-B: c\r\n\r\n"},
		{"NUL in a value", get + "X-A: b\x00c\r\n\r\n"},
		{"control byte in a value", get + "Authorization: Bearer a\x01b\r\n\r\n"},
		{"DEL in a value", get + "X-A: b\x7fc\r\n\r\n"},
		{"obs-fold", get + "X-A: b\r\n  c\r\n\r\n"},
		{"obs-fold with a tab", get + "X-User-ID: b\r\n\tadmin\r\n\r\n"},
		{"field line starting with a space", "GET /x HTTP/1.1\r\n Host: a\r\n\r\n"},
		{"inner space in a name", get + "X User ID: admin\r\n\r\n"},
		{"control byte in a name", get + "X-A\x01: b\r\n\r\n"},
		{"name without a colon", get + "X-A b\r\n\r\n"},
		{"empty name", get + ": b\r\n\r\n"},
		{"two Host headers", "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
		{"control byte in the target", "GET /x\x01y HTTP/1.1\r\nHost: a\r\n\r\n"},
		{"no version", "GET /x\r\nHost: a\r\n\r\n"},
		{"bare LF after a chunk size", post + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"},
		{"bare LF after chunk data", post + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := a.count()
			c := rawDial(t, addr)
			c.write(tc.req)
			wantRefused(t, c, c.read(), 400, "bad_request", a.count, before)
		})
	}

	// fasthttp ends a header block only at CRLFCRLF (headerscanner.go,
	// blockComplete): a block of bare-LF lines only is never complete, so
	// the request waits for read_timeout and is answered 408 and closed.
	t.Run("bare LF only", func(t *testing.T) {
		before := a.count()
		c := rawDial(t, addr)
		c.write("GET /x HTTP/1.1\nHost: a\n\n")
		wantRefused(t, c, c.read(), 408, "bad_request", a.count, before)
	})

	// With "Expect: 100-continue" the header block is checked before the
	// client is invited to send the body.
	t.Run("ambiguous framing refused before 100 Continue", func(t *testing.T) {
		wantRefusedBeforeContinue(t, addr, post+"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"+
			"Expect: 100-continue\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n", a.count)
	})

	t.Run("a well-framed request still passes", func(t *testing.T) {
		c := rawDial(t, addr)
		c.write(post + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
		if got := c.read(); got.status != 200 {
			t.Fatalf("status %d: %s", got.status, got.body)
		}
		if got := a.last(t); got.Body != "hello" {
			t.Fatalf("backend got %q", got.Body)
		}
	})
}

// rawBackend is a TCP server answering in raw bytes, for upstreams no
// well-behaved HTTP server would be: garbage, resets, endless bodies, or a
// test that must see the exact bytes the gateway sent.
type rawBackend struct {
	addr     string
	accepted atomic.Int32
	wg       sync.WaitGroup
}

// startRawBackend serves every connection with serve, which owns it; the
// connection is closed when serve returns, and every connection ends by
// the time the test's cleanup finishes.
func startRawBackend(t *testing.T, serve func(c net.Conn)) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &rawBackend{addr: ln.Addr().String()}
	var mu sync.Mutex
	var conns []net.Conn
	b.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.accepted.Add(1)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			b.wg.Go(func() {
				defer c.Close()
				serve(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		b.wg.Wait()
	})
	return b
}

// readRequestBytes reads one request from c and returns it with the exact
// bytes it arrived as.
func readRequestBytes(c net.Conn) (*http.Request, []byte, error) {
	var raw bytes.Buffer
	req, err := http.ReadRequest(bufio.NewReader(io.TeeReader(c, &raw)))
	if err != nil {
		return nil, raw.Bytes(), err
	}
	_, err = io.Copy(io.Discard, req.Body)
	return req, raw.Bytes(), err
}

// rawServiceGateway starts a gateway with one catch-all route to addr.
func rawServiceGateway(t *testing.T, service string, addr string, opts ...func(*Options)) string {
	t.Helper()
	f := startGateway(t, `
services: { r: `+service+` }
routes:
  - { name: all, match: { path: "/{rest...}" }, service: r }
`, map[string]string{"r": addr}, opts...)
	return f.gw.Addr().String()
}

const rawOK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// TestHardeningAbsoluteForm covers request targets in absolute form (RFC
// 9112, section 3.2.2), which fasthttp parses on its own terms: the
// target's authority wins over the Host header, its userinfo is split off
// and sent upstream as Authorization, and its scheme decides how fasthttp's
// client would talk to the backend.
func TestHardeningAbsoluteForm(t *testing.T) {
	a := startBackend(t, "a")
	vars := authJWTVars(t, a)
	f := startGateway(t, `
auth:
  jwt: { issuer: https://issuer.test, audiences: [api], algorithms: [RS256], keys: [{ kid: r1, pem_file: "{{pem}}" }] }
services:
  a:
    instances: ["{{a}}"]
    timeout: 2s
    circuit_breaker: { window: 10s, min_requests: 3, error_rate: 0.5, open_for: 1m }
routes:
  - { name: inner, match: { host: inner.example, path: "/{rest...}" }, service: a, auth: [jwt] }
  - { name: outer, match: { path: "/{rest...}" }, service: a }
`, vars)
	addr := f.gw.Addr().String()
	const tail = " HTTP/1.1\r\nHost: outer.example\r\n\r\n"

	for _, tc := range []struct{ name, target string }{
		{"user and password", "http://user:pass@outer.example/x"},
		{"escaped at sign in the user", "http://user%40x@outer.example/x"},
		{"empty userinfo", "http://@outer.example/x"},
		{"userinfo before a port", "http://u:p@outer.example:80/x"},
	} {
		t.Run("userinfo: "+tc.name, func(t *testing.T) {
			before := a.count()
			c := rawDial(t, addr)
			c.write("GET " + tc.target + tail)
			wantRefused(t, c, c.read(), 400, "bad_request", a.count, before)
		})
	}
	t.Run("userinfo refused before 100 Continue", func(t *testing.T) {
		wantRefusedBeforeContinue(t, addr, "POST http://u:p@outer.example/x HTTP/1.1\r\nHost: outer.example\r\n"+
			"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n", "hello", a.count)
	})
	t.Run("a scheme other than http or https", func(t *testing.T) {
		before := a.count()
		c := rawDial(t, addr)
		c.write("GET ftp://outer.example/x" + tail)
		wantRefused(t, c, c.read(), 400, "bad_request", a.count, before)
	})
	t.Run("an at sign in the query is not userinfo", func(t *testing.T) {
		c := rawDial(t, addr)
		c.write("GET http://outer.example/x?to=a@b" + tail)
		if r := c.read(); r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if got := a.last(t); got.URI != "/x?to=a@b" || got.Header.Get("Authorization") != "" {
			t.Fatalf("backend saw uri %q, Authorization %q", got.URI, got.Header.Get("Authorization"))
		}
	})
	// The target's host routes: a protected route is not reached through
	// a public one by naming the public host in the Host header.
	t.Run("the target's host picks the route", func(t *testing.T) {
		before := a.count()
		c := rawDial(t, addr)
		c.write("GET http://inner.example/x" + tail)
		r := c.read()
		wantError(t, r.response(), 401, "unauthorized")
		if a.count() != before {
			t.Fatal("backend received a request for the protected route")
		}
	})
	// An https:// target on the plain listener is forwarded like any
	// other. It used to reach fasthttp's client as https, fail there, and
	// count against the backend's circuit: a few such requests opened it
	// for every client.
	t.Run("https targets on a plain listener do not open the circuit", func(t *testing.T) {
		c := rawDial(t, addr)
		for i := range 10 {
			c.write("GET https://outer.example/x HTTP/1.1\r\nHost: outer.example\r\n\r\n")
			if r := c.read(); r.status != 200 {
				t.Fatalf("request %d: status %d: %s", i, r.status, r.body)
			}
		}
		if got := a.last(t); got.Header.Get("X-Forwarded-Proto") != "http" {
			t.Fatalf("X-Forwarded-Proto %q for a plain connection", got.Header.Get("X-Forwarded-Proto"))
		}
		if r := do(t, "GET", f.base+"/y", ""); r.status != 200 {
			t.Fatalf("a plain request after them: status %d: %s", r.status, r.body)
		}
	})
}

func TestHardeningReframing(t *testing.T) {
	got := make(chan []byte, 4)
	b := startRawBackend(t, func(c net.Conn) {
		for {
			_, raw, err := readRequestBytes(c)
			if err != nil {
				return
			}
			got <- raw
			io.WriteString(c, rawOK)
		}
	})
	addr := rawServiceGateway(t, `{ instances: ["{{r}}"], timeout: 2s }`, b.addr)

	t.Run("chunked in, the gateway's own framing out", func(t *testing.T) {
		c := rawDial(t, addr)
		c.write("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"5;ext=smuggle\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
		if r := c.read(); r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		raw := string(<-got)
		head, body, _ := strings.Cut(raw, "\r\n\r\n")
		if body != "hello world" || !strings.Contains(head, "\r\nContent-Length: 11") ||
			strings.Contains(strings.ToLower(head), "transfer-encoding") || strings.Contains(raw, "smuggle") {
			t.Fatalf("backend received %q", raw)
		}
	})
	t.Run("a body without a Content-Type goes on without one", func(t *testing.T) {
		c := rawDial(t, addr)
		c.write("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
		if r := c.read(); r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		raw := string(<-got)
		head, body, _ := strings.Cut(raw, "\r\n\r\n")
		if body != "hello" || strings.Contains(strings.ToLower(head), "content-type") {
			t.Fatalf("backend received %q", raw)
		}
	})
	// fasthttp takes a bare LF as the request line's end (header.go,
	// nextLine) and hands no raw request line to the handler, so the
	// gateway cannot refuse it. That is safe only because nothing of the
	// client's framing is forwarded: the backend gets a CRLF request line.
	t.Run("bare LF after the request line is re-framed", func(t *testing.T) {
		c := rawDial(t, addr)
		c.write("GET /x HTTP/1.1\nHost: a\r\n\r\n")
		if r := c.read(); r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if raw := string(<-got); !strings.HasPrefix(raw, "GET /x HTTP/1.1\r\n") {
			t.Fatalf("backend received %q", raw)
		}
	})
}

func TestHardeningHopByHop(t *testing.T) {
	got := make(chan http.Header, 4)
	b := startRawBackend(t, func(c net.Conn) {
		req, _, err := readRequestBytes(c)
		if err != nil {
			return
		}
		got <- req.Header
		io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: X-Internal, keep-alive\r\nX-Internal: secret\r\n"+
			"Keep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nProxy-Foo: 1\r\nUpgrade: websocket\r\n"+
			"TE: trailers\r\nX-Kept: yes\r\nContent-Length: 2\r\n\r\nok")
	})
	addr := rawServiceGateway(t, `{ instances: ["{{r}}"], timeout: 2s }`, b.addr)

	c := rawDial(t, addr)
	c.write("GET /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret, x-other\r\nX-Secret: 1\r\nX-Other: 2\r\n" +
		"Keep-Alive: timeout=99\r\nTE: trailers\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nProxy-Connection: keep-alive\r\n" +
		"Upgrade: websocket\r\nX-Kept: yes\r\n\r\n")
	r := c.read()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	for _, name := range []string{"X-Internal", "Keep-Alive", "Proxy-Authenticate", "Proxy-Foo", "Upgrade", "Te"} {
		if v := r.header.Get(name); v != "" {
			t.Errorf("client received %s: %q", name, v)
		}
	}
	if r.header.Get("X-Kept") != "yes" {
		t.Errorf("client lost an end-to-end header: %v", r.header)
	}
	req := <-got
	for _, name := range []string{"Connection", "X-Secret", "X-Other", "Keep-Alive", "Te", "Proxy-Authorization", "Proxy-Connection", "Upgrade"} {
		if v := req.Get(name); v != "" {
			t.Errorf("backend received %s: %q", name, v)
		}
	}
	if req.Get("X-Kept") != "yes" {
		t.Errorf("backend lost an end-to-end header: %v", req)
	}
	if c.closed(200 * time.Millisecond) {
		t.Error("the upstream's Connection header closed the client's connection")
	}
}

func TestHardeningIdentitySpellings(t *testing.T) {
	a := startBackend(t, "a")
	f := startGateway(t, authJWTConfig, authJWTVars(t, a))
	addr := f.gw.Addr().String()
	token := authSign(t, []byte(authHMACSecret), authHS256Header, authGoodClaims())

	t.Run("every spelling is replaced by the verified one", func(t *testing.T) {
		c := rawDial(t, addr)
		c.write("GET /private/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + token + "\r\n" +
			"X_User_ID: admin\r\nx_user_id: admin\r\nX-USER-ID: admin\r\nx-user_id: admin\r\nX_ROLES: root\r\n\r\n")
		if r := c.read(); r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		authWantIdentity(t, a.last(t), authJWTIdentity)
	})
	t.Run("public route gets none", func(t *testing.T) {
		c := rawDial(t, addr)
		c.write("GET /public/x HTTP/1.1\r\nHost: a\r\nX_User_ID: admin\r\nX-Consumer-ID: evil\r\nx_plan: gold\r\n\r\n")
		if r := c.read(); r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		authWantIdentity(t, a.last(t), map[string]string{})
	})
	t.Run("a name with inner spaces is refused", func(t *testing.T) {
		before := a.count()
		c := rawDial(t, addr)
		c.write("GET /private/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + token + "\r\nX User ID: admin\r\n\r\n")
		wantRefused(t, c, c.read(), 400, "bad_request", a.count, before)
	})
	t.Run("100 Continue is not sent before auth", func(t *testing.T) {
		before := a.count()
		code, resp, _ := authExpectExchange(t, addr,
			"POST /private/upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n", "0123456789")
		if code != 401 || resp.StatusCode != 401 || !resp.Close {
			t.Fatalf("first answer %d, final %d, close %v; want 401 and close, never 100", code, resp.StatusCode, resp.Close)
		}
		if a.count() != before {
			t.Fatal("backend received the unauthenticated request")
		}
	})
}

func TestHardeningMethodsAndVersions(t *testing.T) {
	f, a := hardeningGateway(t, `{ read_timeout: 2s }`)
	addr := f.gw.Addr().String()
	for _, tc := range []struct {
		name, req string
		status    int
		code      string
		closed    bool
	}{
		// Methods are case-sensitive (RFC 9110 §9.1): "get" is not GET.
		{"lowercase method", "get /x HTTP/1.1\r\nHost: a\r\n\r\n", 405, "method_not_allowed", false},
		{"unknown method", "FOO /x HTTP/1.1\r\nHost: a\r\n\r\n", 405, "method_not_allowed", false},
		{"TRACE", "TRACE /x HTTP/1.1\r\nHost: a\r\n\r\n", 405, "method_not_allowed", false},
		{"CONNECT authority-form", "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n", 405, "method_not_allowed", false},
		{"CONNECT origin-form", "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", 405, "method_not_allowed", false},
		{"HTTP/1.2", "GET /x HTTP/1.2\r\nHost: a\r\n\r\n", 400, "bad_request", true},
		{"HTTP/2.0", "GET /x HTTP/2.0\r\nHost: a\r\n\r\n", 400, "bad_request", true},
		{"HTTP/0.9 style", "GET /x HTTP/0.9\r\nHost: a\r\n\r\n", 400, "bad_request", true},
		{"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "bad_request", true},
		{"not HTTP", "GET /x FTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := a.count()
			c := rawDial(t, addr)
			c.write(tc.req)
			r := c.read()
			wantError(t, r.response(), tc.status, tc.code)
			if tc.status == 405 && r.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
			if got := c.closed(300 * time.Millisecond); got != tc.closed {
				t.Errorf("connection closed %v, want %v", got, tc.closed)
			}
			if a.count() != before {
				t.Error("backend received the request")
			}
		})
	}

	t.Run("Upgrade h2c is never forwarded", func(t *testing.T) {
		c := rawDial(t, addr)
		c.write("GET /x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n" +
			"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
		if r := c.read(); r.status != 200 {
			t.Fatalf("status %d, want the request served over HTTP/1.1", r.status)
		}
		got := a.last(t)
		for _, name := range []string{"Connection", "Upgrade", "Http2-Settings"} {
			if v := got.Header.Get(name); v != "" {
				t.Errorf("backend received %s: %q", name, v)
			}
		}
	})
}

func TestHardeningMultipartByteForByte(t *testing.T) {
	f, a := hardeningGateway(t, `{ max_body_bytes: 65536 }`)
	body := "This preamble is ignored by parsers but covered by the signature.\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"meta\"\r\nX-Part-Checksum: abc123\r\n\r\n{\"a\":1}\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n\x00\x01\x02--Xy\r\n" +
		"--XyZ--\r\nand an epilogue\r\n"
	c := rawDial(t, f.gw.Addr().String())
	c.write("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	if r := c.read(); r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	got := a.last(t)
	if got.Body != body || got.Header.Get("Content-Length") != "" && got.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Fatalf("backend received %d bytes %q, want %d bytes %q", len(got.Body), got.Body, len(body), body)
	}
}

func TestHardeningErrorLogKeepsSecrets(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	f, a := hardeningGateway(t, `{ max_header_bytes: 1024, read_timeout: 1s }`, func(o *Options) {
		o.Log, o.AccessLog = log, log
	})
	addr := f.gw.Addr().String()
	const secret = "SECRET-credential-7f3a"
	for _, req := range []string{
		"GET /x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + secret + "\x01\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: a\r\nCookie: s=" + secret + "\x00\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: a\r\nX-Api-Key " + secret + "\r\n\r\n",
		"GET /" + secret + "\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + secret + "\r\nX-Pad: " + strings.Repeat("p", 2048) + "\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + secret + "\r\nTransfer-Encoding: chunked\r\n\r\n" + secret + "\r\n",
	} {
		c := rawDial(t, addr)
		c.write(req)
		if r := c.read(); r.status < 400 || strings.Contains(r.body, secret) {
			t.Fatalf("answer %d %q to %q", r.status, r.body, req)
		}
		c.closed(2 * time.Second)
	}
	if a.count() != 0 {
		t.Fatal("backend received a malformed request")
	}
	// fasthttp logs the connection's error after closing it: wait for the
	// last connection's entry.
	deadline := time.Now().Add(2 * time.Second)
	for logs.Len() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if logs.Len() == 0 {
		t.Fatal("nothing was logged: the check would prove nothing")
	}
	for _, e := range logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		if strings.Contains(line, secret) {
			t.Errorf("log entry holds request bytes: %s", line)
		}
	}
}

// trickle writes s one byte every interval until the gateway answers,
// and returns the answer.
func trickle(t *testing.T, c *rawClient, s string, interval time.Duration) rawReply {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(done)
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := range len(s) {
			if _, err := c.conn.Write([]byte{s[i]}); err != nil {
				return
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return c.read()
}

func TestHardeningTimeouts(t *testing.T) {
	f, a := hardeningGateway(t, `{ read_timeout: 300ms, idle_timeout: 300ms }`)
	addr := f.gw.Addr().String()

	// Each trickle would take seconds to finish; the gateway must answer
	// long before, at read_timeout.
	t.Run("slow headers", func(t *testing.T) {
		c := rawDial(t, addr)
		r := trickle(t, c, "GET /x HTTP/1.1\r\nHost: a\r\nX-Slow: 0123456789012345678901234567890123456789\r\n\r\n", 100*time.Millisecond)
		wantRefused(t, c, r, 408, "bad_request", a.count, 0)
	})
	t.Run("slow body", func(t *testing.T) {
		c := rawDial(t, addr)
		c.write("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\n\r\n")
		r := trickle(t, c, strings.Repeat("b", 40), 100*time.Millisecond)
		wantRefused(t, c, r, 408, "bad_request", a.count, 0)
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c := rawDial(t, addr)
		for range 2 {
			c.write("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
			if r := c.read(); r.status != 200 {
				t.Fatalf("status %d", r.status)
			}
		}
		if !c.closed(5 * time.Second) {
			t.Fatal("idle keep-alive connection still open")
		}
	})
}

// resetAfterRequest reads one request, counts it and resets the
// connection without answering.
func resetAfterRequest(n *atomic.Int32) func(net.Conn) {
	return func(c net.Conn) {
		if _, _, err := readRequestBytes(c); err != nil {
			return
		}
		n.Add(1)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
	}
}

func TestHardeningUpstream(t *testing.T) {
	t.Run("PUT is sent once to a resetting backend", func(t *testing.T) {
		var n atomic.Int32
		b := startRawBackend(t, resetAfterRequest(&n))
		addr := rawServiceGateway(t, `{ instances: ["{{r}}"], retries: 2, timeout: 2s }`, b.addr)
		c := rawDial(t, addr)
		c.write("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi")
		wantError(t, c.read().response(), 502, "bad_gateway")
		if got := n.Load(); got != 1 {
			t.Fatalf("backend received the PUT %d times", got)
		}
	})
	t.Run("GET is sent at most 1+retries times", func(t *testing.T) {
		var n atomic.Int32
		b := startRawBackend(t, resetAfterRequest(&n))
		addr := rawServiceGateway(t, `{ instances: ["{{r}}"], retries: 1, timeout: 2s }`, b.addr)
		c := rawDial(t, addr)
		c.write("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
		wantError(t, c.read().response(), 502, "bad_gateway")
		if got := n.Load(); got < 1 || got > 2 {
			t.Fatalf("backend received the GET %d times, want 1 or 2", got)
		}
	})
	t.Run("an endless chunked body is cut at max_response_bytes", func(t *testing.T) {
		finished := make(chan bool, 1)
		b := startRawBackend(t, func(c net.Conn) {
			if _, _, err := readRequestBytes(c); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
			chunk := "8000\r\n" + strings.Repeat("z", 0x8000) + "\r\n"
			for range 2048 { // 64 MiB unless the gateway hangs up
				if _, err := io.WriteString(c, chunk); err != nil {
					finished <- false
					return
				}
			}
			io.WriteString(c, "0\r\n\r\n")
			finished <- true
		})
		addr := rawServiceGateway(t, `{ instances: ["{{r}}"], max_response_bytes: 65536, timeout: 5s }`, b.addr)
		c := rawDial(t, addr)
		c.write("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
		wantError(t, c.read().response(), 502, "bad_gateway")
		select {
		case all := <-finished:
			if all {
				t.Fatal("the gateway read the whole 64 MiB body")
			}
		case <-time.After(8 * time.Second):
			t.Fatal("the gateway kept the upstream connection reading")
		}
	})
	t.Run("a declared length over max_response_bytes is refused unread", func(t *testing.T) {
		b := startRawBackend(t, func(c net.Conn) {
			if _, _, err := readRequestBytes(c); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\nzzzz")
			io.Copy(io.Discard, c) // until the gateway hangs up
		})
		// With a 5 s timeout, a 502 well before it shows the body was
		// never waited for; waiting would end in 504.
		addr := rawServiceGateway(t, `{ instances: ["{{r}}"], max_response_bytes: 65536, timeout: 5s }`, b.addr)
		c := rawDial(t, addr)
		c.write("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
		wantError(t, c.read().response(), 502, "bad_gateway")
	})
	t.Run("upstream garbage is not echoed", func(t *testing.T) {
		const leak = "internal-db-password-9c1e"
		b := startRawBackend(t, func(c net.Conn) {
			if _, _, err := readRequestBytes(c); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 2x0 "+leak+"\r\nX-A: "+leak+"\r\n\r\n")
		})
		addr := rawServiceGateway(t, `{ instances: ["{{r}}"], timeout: 2s }`, b.addr)
		c := rawDial(t, addr)
		c.write("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
		r := c.read()
		e := wantError(t, r.response(), 502, "bad_gateway")
		want := string(errBadGateway.prefix) + e.TraceID + `"}`
		if r.body != want || strings.Contains(fmt.Sprint(r.header), leak) {
			t.Fatalf("client received %v %q, want the fixed body %q", r.header, r.body, want)
		}
	})
}

func TestHardeningBounds(t *testing.T) {
	f, a := hardeningGateway(t, `{ max_header_bytes: 1024, max_header_count: 10, max_body_bytes: 1024, max_requests_per_conn: 2, read_timeout: 2s }`)
	addr := f.gw.Addr().String()

	t.Run("header bytes", func(t *testing.T) {
		c := rawDial(t, addr)
		c.write("GET /x HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("b", 2048) + "\r\n\r\n")
		wantRefused(t, c, c.read(), 431, "too_large", a.count, 0)
	})
	t.Run("header count", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("GET /x HTTP/1.1\r\nHost: a\r\n")
		for i := range 10 { // Host is the 1st field, these the 2nd to 11th
			fmt.Fprintf(&b, "X-H%d: v\r\n", i)
		}
		c := rawDial(t, addr)
		c.write(b.String() + "\r\n")
		wantRefused(t, c, c.read(), 431, "too_large", a.count, 0)
	})
	t.Run("header count at the bound passes", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("GET /x HTTP/1.1\r\nHost: a\r\n")
		for i := range 9 {
			fmt.Fprintf(&b, "X-H%d: v\r\n", i)
		}
		c := rawDial(t, addr)
		c.write(b.String() + "\r\n")
		if r := c.read(); r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
	t.Run("declared body over the bound, before it is sent", func(t *testing.T) {
		before := a.count()
		c := rawDial(t, addr)
		c.write("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n")
		wantRefused(t, c, c.read(), 413, "too_large", a.count, before)
	})
	t.Run("chunked body growing past the bound", func(t *testing.T) {
		before := a.count()
		c := rawDial(t, addr)
		chunk := "200\r\n" + strings.Repeat("c", 0x200) + "\r\n"
		c.write("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + chunk + chunk + "0\r\n\r\n")
		wantRefused(t, c, c.read(), 413, "too_large", a.count, before)
	})
	t.Run("requests per connection", func(t *testing.T) {
		c := rawDial(t, addr)
		for i := range 2 {
			c.write("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
			r := c.read()
			if r.status != 200 {
				t.Fatalf("request %d: status %d", i, r.status)
			}
			if r.close != (i == 1) {
				t.Fatalf("request %d: Connection: close is %v", i, r.close)
			}
		}
		if !c.closed(2 * time.Second) {
			t.Fatal("connection open after max_requests_per_conn")
		}
	})
}

func TestHardeningMaxConnections(t *testing.T) {
	f, a := hardeningGateway(t, `{ max_connections: 2 }`)
	addr := f.gw.Addr().String()
	var held []*rawClient
	for range 2 {
		c := rawDial(t, addr)
		c.write("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
		if r := c.read(); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
		held = append(held, c)
	}
	before := a.count()
	c := rawDial(t, addr)
	c.write("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, err := http.ReadResponse(c.br, nil)
	if err == nil {
		io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || !resp.Close {
			t.Fatalf("connection 3 of 2 answered %d, close %v", resp.StatusCode, resp.Close)
		}
	}
	if !c.closed(2 * time.Second) {
		t.Fatal("connection over max_connections left open")
	}
	if a.count() != before {
		t.Fatal("backend received a request from a connection over the bound")
	}

	// The bound is on concurrent connections: once one closes, a new one
	// is served.
	held[0].conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := rawDial(t, addr)
		c.write("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, err := http.ReadResponse(c.br, nil)
		if err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no connection served after one of the held ones closed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FuzzCheckHeaderBlock feeds header blocks to the check and holds it to
// what it promises: no panic, and a block it lets through has only CRLF
// line ends, no continuation lines, and token field names.
func FuzzCheckHeaderBlock(f *testing.F) {
	for _, seed := range []string{
		"", "\r\n", "\n", "Host: a\r\n\r\n", "Host: a\nX: b\r\n\r\n", "X: a\r\n b\r\n\r\n",
		"X User: a\r\n\r\n", "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"Transfer-Encoding: identity\r\n\r\n", "Transfer-Encoding:  chunked \r\n\r\n", ":\r\n\r\n",
		"X_User_ID: a\r\n\r\n", "A:\r\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if checkHeaderBlock(raw, 100) != nil {
			return
		}
		for rest := raw; len(rest) > 0; {
			line, after, found := bytes.Cut(rest, []byte("\n"))
			if !found || !bytes.HasSuffix(line, []byte("\r")) {
				t.Fatalf("accepted %q: a line without CRLF", raw)
			}
			line, rest = line[:len(line)-1], after
			if len(line) == 0 {
				break // the end of the block; a body may follow
			}
			name, _, ok := bytes.Cut(line, []byte(":"))
			if !ok || len(name) == 0 || line[0] == ' ' || line[0] == '\t' {
				t.Fatalf("accepted %q: line %q", raw, line)
			}
			for _, c := range name {
				if !tokenByte[c] {
					t.Fatalf("accepted %q: name %q", raw, name)
				}
			}
		}
	})
}

var sinkGatewayError *gatewayError

// BenchmarkCheckHeaderBlock measures the check on the header block of a
// typical browser request behind a CDN (14 fields, about 900 bytes).
func BenchmarkCheckHeaderBlock(b *testing.B) {
	raw := []byte("Host: api.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\r\n" +
		"Accept: application/json, text/plain, */*\r\nAccept-Language: en-GB,en;q=0.9\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\nAuthorization: Bearer " + strings.Repeat("e", 400) + "\r\n" +
		"Content-Type: application/json\r\nContent-Length: 42\r\nOrigin: https://app.example.com\r\n" +
		"Referer: https://app.example.com/dashboard\r\nCookie: session=abc123; theme=dark\r\n" +
		"X-Forwarded-For: 203.0.113.7\r\nX-Trace-ID: 4bf92f3577b34da6a3ce929d0e0e4736\r\nConnection: keep-alive\r\n\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		sinkGatewayError = checkHeaderBlock(raw, 100)
	}
	if sinkGatewayError != nil {
		b.Fatal("the typical block was refused")
	}
}
