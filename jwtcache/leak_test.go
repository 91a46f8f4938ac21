package jwtcache

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run when a background loop of the package outlives
// the tests: every one must end with its Close.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := backgroundLoops(2 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "background loops still running after the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// backgroundLoops waits up to wait for the package's loops to end and
// returns the stacks of those that did not.
func backgroundLoops(wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "jwtcache.(*JWT).loop") || strings.Contains(g, "jwtcache.(*APIKeys).poll") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
