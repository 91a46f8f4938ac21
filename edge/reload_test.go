package edge

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const reloadConfig = `
services:
  a: { instances: ["{{a}}"] }
  b: { instances: ["{{b}}"] }
routes: [{ name: all, match: { path: "/{rest...}" }, service: {{svc}} }]
`

// TestReloadUnderLoad swaps configurations back and forth while clients
// keep sending requests: no request may fail, and after the last swap the
// new route serves.
func TestReloadUnderLoad(t *testing.T) {
	a, b := startBackend(t, "a"), startBackend(t, "b")
	vars := func(svc string) map[string]string { return map[string]string{"a": a.addr, "b": b.addr, "svc": svc} }
	f := startGateway(t, reloadConfig, vars("a"))

	var sent, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(f.base + "/x")
				sent.Add(1)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
			}
		}()
	}
	for i := range 20 {
		svc := "a"
		if i%2 == 0 {
			svc = "b"
		}
		if err := f.gw.Reload(parseConfig(t, reloadConfig, vars(svc))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || sent.Load() < 50 {
		t.Fatalf("%d of %d requests failed during reloads", failed.Load(), sent.Load())
	}
	// The last reload (i = 19) routed to a.
	if r := do(t, "GET", f.base+"/x", ""); r.header.Get("X-Backend") != "a" {
		t.Fatalf("after reloads served by %q", r.header.Get("X-Backend"))
	}
}

func TestBadReloadKeepsServing(t *testing.T) {
	a, b := startBackend(t, "a"), startBackend(t, "b")
	f := startGateway(t, reloadConfig, map[string]string{"a": a.addr, "b": b.addr, "svc": "a"})
	bad := parseConfig(t, reloadConfig, map[string]string{"a": a.addr, "b": b.addr, "svc": "a"})
	bad.Routes[0].Rewrite = "/x/{nope}" // names a param the path lacks
	err := f.gw.Reload(bad)
	if err == nil || !strings.Contains(err.Error(), "routes[0].rewrite") {
		t.Fatalf("reload error %v, want one naming routes[0].rewrite", err)
	}
	if r := do(t, "GET", f.base+"/x", ""); r.status != 200 || r.header.Get("X-Backend") != "a" {
		t.Fatalf("after a bad reload: %d from %q", r.status, r.header.Get("X-Backend"))
	}
}

// TestShutdownDrainsSlowRequest stops the gateway while a slow request is
// in flight: the request completes, new connections are refused.
func TestShutdownDrainsSlowRequest(t *testing.T) {
	a := startBackend(t, "a")
	a.setHandler(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		w.Write([]byte("finished"))
	})
	f := startGateway(t, reloadConfig, map[string]string{"a": a.addr, "b": a.addr, "svc": "a"})

	done := make(chan response, 1)
	go func() { done <- do(t, "GET", f.base+"/slow", "") }()
	deadline := time.Now().Add(2 * time.Second)
	for len(a.requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.gw.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	r := <-done
	if r.status != 200 || r.body != "finished" {
		t.Fatalf("in-flight request got %d %q", r.status, r.body)
	}
	if _, err := http.Get(f.base + "/after"); err == nil {
		t.Fatal("gateway still accepting after shutdown")
	}
}

func TestCompileNamesRouteKey(t *testing.T) {
	a := startBackend(t, "a")
	cfg := parseConfig(t, reloadConfig, map[string]string{"a": a.addr, "b": a.addr, "svc": "a"})
	cfg.Routes[0].Match.Host = "*"
	err := Check(cfg)
	if err == nil || !strings.HasPrefix(err.Error(), "routes[0].match.host: ") {
		t.Fatalf("error %v, want one naming routes[0].match.host", err)
	}
}
