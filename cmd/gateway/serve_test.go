package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildGateway compiles the binary once per test run.
func buildGateway(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gateway")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build: %v", err)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startBackend(t *testing.T, name string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		fmt.Fprint(w, name)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func get(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeReloadAndDrain runs the real binary: it serves, reloads when
// the file changes and on SIGHUP, keeps serving on an invalid file, and on
// SIGTERM finishes a slow in-flight request before exiting 0.
func TestServeReloadAndDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildGateway(t)
	fast, slow := startBackend(t, "fast", 0), startBackend(t, "slow", 400*time.Millisecond)
	listen, admin := freePort(t), freePort(t)
	dir := t.TempDir()
	conf := func(svc string) string {
		return fmt.Sprintf(`
server: { listen: "%s" }
admin: { listen: "%s" }
logging: { access_log: off }
services:
  fast: { instances: ["%s"] }
  slow: { instances: ["%s"] }
routes: [{ name: r, match: { path: "/{rest...}" }, service: %s }]
`, listen, admin, fast, slow, svc)
	}
	path := writeFile(t, dir, "gateway.yaml", conf("fast"))

	cmd := exec.Command(bin, "-config", path)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case logs <- sc.Text():
			default:
			}
		}
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := "http://" + listen

	waitFor(t, "the gateway to serve", func() bool { _, body, _ := get(base + "/"); return body == "fast" })

	// A change of the file reloads it.
	writeFile(t, dir, "gateway.yaml", conf("slow"))
	waitFor(t, "the file change to reload", func() bool { _, body, _ := get(base + "/"); return body == "slow" })

	// An invalid file is logged and the old configuration keeps serving.
	writeFile(t, dir, "gateway.yaml", conf("missing"))
	waitFor(t, "the failed reload to be logged", func() bool {
		for {
			select {
			case l := <-logs:
				if strings.Contains(l, "reload failed") && strings.Contains(l, "routes[0].service") {
					return true
				}
			default:
				return false
			}
		}
	})
	if _, body, _ := get(base + "/"); body != "slow" {
		t.Fatalf("after an invalid file: %q", body)
	}

	// SIGHUP reloads too.
	writeFile(t, dir, "gateway.yaml", conf("fast"))
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "SIGHUP to reload", func() bool { _, body, _ := get(base + "/"); return body == "fast" })

	// SIGTERM drains a slow request, then exits 0.
	writeFile(t, dir, "gateway.yaml", conf("slow"))
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the slow route", func() bool {
		c, _ := net.DialTimeout("tcp", listen, time.Second)
		if c != nil {
			c.Close()
		}
		_, body, _ := get(base + "/")
		return body == "slow"
	})
	result := make(chan string, 1)
	go func() { _, body, err := get(base + "/inflight"); result <- fmt.Sprint(body, err) }()
	time.Sleep(100 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	if got := <-result; got != "slow<nil>" {
		t.Fatalf("in-flight request during shutdown: %s", got)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not exit after SIGTERM")
	}
}

func TestVersion(t *testing.T) {
	var b strings.Builder
	printVersion(&b)
	if !strings.Contains(b.String(), "go1.") || !strings.Contains(b.String(), "commit") {
		t.Fatalf("version output %q", b.String())
	}
}
