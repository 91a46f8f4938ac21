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

	t.Run("userinfo in Host is refused", func(t *testing.T) {
		resp, body := rawExchange(t, addr, "GET /x HTTP/1.1\r\nHost: user:pass@evil\r\n\r\n")
		if resp.StatusCode != 400 || !strings.Contains(body, `"bad_request"`) {
			t.Fatalf("got %d %s", resp.StatusCode, body)
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
	t.Run("request trailer cannot smuggle an identity header", func(t *testing.T) {
		resp, _ := rawExchange(t, addr, "POST /x HTTP/1.1\r\nHost: a\r\nTrailer: X-User-ID\r\nTransfer-Encoding: chunked\r\n\r\n"+
			"5\r\nhello\r\n0\r\nX-User-ID: admin\r\n\r\n")
		if resp.StatusCode != 200 {
			t.Fatalf("got %d", resp.StatusCode)
		}
		got := a.last(t)
		if got.Body != "hello" || got.Header.Get("X-User-ID") != "" || got.Header.Get("Trailer") != "" {
			t.Fatalf("backend saw body %q headers %v", got.Body, got.Header)
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
