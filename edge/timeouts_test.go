package edge

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The server timeouts of gateway.example.yaml, each set short while the
// others are long (5 s), so that a connection closed within the bound
// (2 s) can only have been closed by the timeout under test. Bounds are
// generous for a loaded machine; the long timeouts stay above them.

func TestServerIdleTimeout(t *testing.T) {
	f, a := hardeningGateway(t, `{ read_timeout: 5s, write_timeout: 5s, idle_timeout: 300ms }`)
	c := rawDial(t, f.gw.Addr().String())
	c.write("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
	r := c.read()
	if r.status != 200 || r.close {
		t.Fatalf("status %d, close %v; want 200 on a kept-alive connection", r.status, r.close)
	}
	start := time.Now()
	if !c.closed(2 * time.Second) {
		t.Fatal("idle keep-alive connection still open 2s after the response; idle_timeout is 300ms, read_timeout 5s")
	}
	// Not closed with the response: the server waited for a next request.
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("closed %v after the response, before idle_timeout", d)
	}
	if n := a.count(); n != 1 {
		t.Fatalf("backend received %d requests, want 1", n)
	}
}

func TestServerReadTimeout(t *testing.T) {
	f, a := hardeningGateway(t, `{ read_timeout: 300ms, write_timeout: 5s, idle_timeout: 5s }`)
	addr := f.gw.Addr().String()
	// About 6 s to send at one byte per 100 ms.
	const slow = "GET /x HTTP/1.1\r\nHost: a\r\nX-Slow: 0123456789012345678901234567890123456789\r\n\r\n"

	t.Run("slow headers on a new connection", func(t *testing.T) {
		before := a.count()
		c := rawDial(t, addr)
		start := time.Now()
		r := trickle(t, c, slow, 100*time.Millisecond)
		wantRefused(t, c, r, 408, "bad_request", a.count, before)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("answered and closed after %v; read_timeout is 300ms", d)
		}
	})
	// After a first request the idle timeout (5 s) covers the wait for
	// the next one; once its first byte arrives, read_timeout applies.
	t.Run("slow headers on a kept-alive connection", func(t *testing.T) {
		c := rawDial(t, addr)
		c.write("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
		if r := c.read(); r.status != 200 || r.close {
			t.Fatalf("first request: status %d, close %v", r.status, r.close)
		}
		before := a.count()
		start := time.Now()
		r := trickle(t, c, slow, 100*time.Millisecond)
		wantRefused(t, c, r, 408, "bad_request", a.count, before)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("answered and closed after %v; read_timeout is 300ms, idle_timeout 5s", d)
		}
	})
}

// write_timeout bounds writing the whole response (fasthttp sets the write
// deadline once, before the response is written). A client that asks for
// 32 MiB and does not read cannot take it in: loopback buffers hold a few
// MiB, so the write blocks, the deadline passes and the gateway closes the
// connection. Without the timeout the client, reading later, would get all
// of it on a connection still open.
func TestServerWriteTimeout(t *testing.T) {
	const size = 32 << 20
	a := startBackend(t, "a")
	payload := []byte(strings.Repeat("w", size))
	a.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.Write(payload)
	})
	f := startGateway(t, `
server: { read_timeout: 5s, write_timeout: 300ms, idle_timeout: 5s }
services: { a: { instances: ["{{a}}"], timeout: 5s, max_response_bytes: 67108864 } }
routes:
  - { name: all, match: { path: "/{rest...}" }, service: a }
`, map[string]string{"a": a.addr})

	conn, err := net.DialTimeout("tcp", f.gw.Addr().String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A fixed 64 KiB receive buffer keeps autotuning (up to tcp_rmem's
	// maximum, 32 MiB here) from taking in the body. Smaller is worse, not
	// better: a few KiB set after the handshake makes Linux drop segments
	// inside the window it already advertised, and the retransmission
	// backoff then delivers about 40 KB/s, so the drain never ends in time.
	if err := conn.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The first bytes show the response is being written, so its write
	// deadline is armed; then the client stops reading for well past it.
	first := make([]byte, 64)
	n, err := conn.Read(first)
	if err != nil {
		t.Fatalf("no response started: %v", err)
	}
	if !strings.HasPrefix(string(first[:n]), "HTTP/1.1 200") {
		t.Fatalf("response starts %q", first[:n])
	}
	time.Sleep(1500 * time.Millisecond)

	start := time.Now()
	conn.SetReadDeadline(start.Add(10 * time.Second))
	rest, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open %v after the client resumed reading (%d bytes read); write_timeout is 300ms", time.Since(start), rest)
	}
	total := int64(n) + rest
	t.Logf("received %d of %d body bytes, then %v after %v", total, size, err, time.Since(start))
	if total >= size/2 {
		t.Fatalf("received %d bytes of a %d-byte body: the write was not cut at write_timeout", total, size)
	}
	// Draining what the buffers held takes milliseconds; an idle_timeout
	// close after a complete response would take 5 s.
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("connection closed %v after the client resumed reading", d)
	}
}
