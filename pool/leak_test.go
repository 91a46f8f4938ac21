package pool

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if a background loop of the package outlives the
// tests: every Service a test builds is closed by its cleanup, and Close
// must stop what New started.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := leakedLoops(2 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines still running after the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// loopFuncs are the package's background loops, as they appear in stacks.
var loopFuncs = []string{"(*Service).checkLoop", "(*Service).reinstateLoop", "(*Service).discoverLoop"}

// leakedLoops waits up to wait for the package's loops to end and returns
// the stacks of those still running.
func leakedLoops(wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for g := range strings.SplitSeq(string(buf), "\n\n") {
			for _, f := range loopFuncs {
				if strings.Contains(g, "gateway/pool."+f) {
					leaked = append(leaked, g)
					break
				}
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCloseStopsLoops checks the leak check itself: a service with every
// kind of loop has them running until Close, and none after.
func TestCloseStopsLoops(t *testing.T) {
	b := startBackend(t, ok)
	d := startDNS(t)
	d.setIPs("node1.pool.test", "127.0.0.1")
	d.setSRV("_users._tcp.pool.test", srvRecord{"node1.pool.test", portOf(t, b.addr), 10, 1})
	s, err := New(Options{
		Discovery:   &Discovery{Name: "_users._tcp.pool.test", Resolver: d.addr},
		HealthCheck: &HealthCheck{Path: "/", Interval: time.Hour, Timeout: time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	passive := newTestService(t, Options{Instances: []string{"10.0.0.1:80"}})
	eventually(t, "all loops running", func() bool {
		running := leakedLoops(0)
		for _, f := range loopFuncs {
			if !strings.Contains(running, f) {
				return false
			}
		}
		return true
	})
	s.Close()
	passive.Close()
	if leaked := leakedLoops(time.Second); leaked != "" {
		t.Errorf("loops still running after Close:\n%s", leaked)
	}
	// Closing stops the loops, not the service.
	if in, err := get(t, s, "/"); err != nil || in.Addr() != b.addr {
		t.Errorf("Do after Close = %v, %v; want the discovered instance's answer", in, err)
	}
}
