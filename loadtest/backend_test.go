package loadtest

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// backendHit is one request a backend received.
type backendHit struct {
	// ID is the client's X-Request-Id; -1 when absent.
	ID     int
	Method string
	// At is the arrival, on the test process's monotonic clock.
	At time.Time
}

// backend is a real HTTP server on a loopback port that records every
// request but the health checks. It can be killed (listener and every
// connection closed at once, as when a process dies) and restarted on the
// same port.
type backend struct {
	Addr string

	t    testing.TB
	mu   sync.Mutex
	srv  *http.Server
	hits []backendHit
}

// startBackend starts a backend on a free loopback port; it stops when
// the test ends.
func startBackend(t testing.TB) *backend {
	t.Helper()
	b := &backend{t: t}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.Addr = ln.Addr().String()
	b.serve(ln)
	t.Cleanup(b.kill)
	return b
}

func (b *backend) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(b.handle), ReadHeaderTimeout: 5 * time.Second}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
	go srv.Serve(ln)
}

func (b *backend) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/health" {
		w.WriteHeader(http.StatusOK)
		return
	}
	id, err := strconv.Atoi(r.Header.Get("X-Request-Id"))
	if err != nil {
		id = -1
	}
	b.mu.Lock()
	b.hits = append(b.hits, backendHit{ID: id, Method: r.Method, At: time.Now()})
	b.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true,"path":"` + r.URL.Path + `"}`))
}

// received returns a copy of the hits so far.
func (b *backend) received() []backendHit {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]backendHit(nil), b.hits...)
}

// kill closes the listener and every connection at once. Safe to call
// when already killed.
func (b *backend) kill() {
	b.mu.Lock()
	srv := b.srv
	b.srv = nil
	b.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// restart listens on the same address again. The port was just released;
// the kernel lets a listener rebind it at once (Go sets SO_REUSEADDR), the
// short retry covers a slow release.
func (b *backend) restart() {
	b.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", b.Addr)
		if err == nil {
			b.serve(ln)
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("restart backend on %s: %v", b.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
