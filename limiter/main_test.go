package limiter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/gateway/internal/redisconn"
)

// helperEnv, when set, makes the test binary a load-generating limiter
// client instead of running tests: the multi-process tests start it three
// times so that each instance has its own process, Redis client and clock.
const helperEnv = "LIMITER_TEST_CLIENT"

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		os.Exit(runClient(spec))
	}
	code := m.Run()
	if code == 0 && leakedSyncLoops() {
		fmt.Fprintln(os.Stderr, "a hybrid sync loop is still running: a test forgot Close")
		code = 1
	}
	if code == 0 && coarse.running() {
		fmt.Fprintln(os.Stderr, "the coarse clock is still running: a test forgot Close")
		code = 1
	}
	os.Exit(code)
}

// leakedSyncLoops reports whether a sync loop outlives the tests.
func leakedSyncLoops() bool {
	deadline := time.Now().Add(2 * time.Second)
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if !bytes.Contains(buf[:n], []byte("limiter.(*hybrid).run")) {
			return false
		}
		if time.Now().After(deadline) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clientSpec is what one client process does: from Start, for Duration,
// Workers goroutines call Allow on Keys in turn, pausing Pause between
// calls.
type clientSpec struct {
	Addrs    []string
	Policy   Policy
	Keys     []string
	Start    time.Time
	Duration time.Duration
	Workers  int
	Pause    time.Duration
}

// clientResult is what a client process reports on stdout.
type clientResult struct {
	Admitted    map[string]int
	Refused     int
	Unavailable int
	RedisErrors uint64
}

func runClient(spec string) int {
	var s clientSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	conn, err := redisconn.Open(redisconn.Options{Addrs: s.Addrs, DialTimeout: time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer conn.Close()
	l, err := New(s.Policy, Options{Redis: conn, Timeout: time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	res := hammer(l, s.Keys, s.Start, s.Duration, s.Workers, s.Pause)
	l.Close()
	res.RedisErrors = l.RedisErrors()
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return 2
	}
	return 0
}

// hammer sends requests for keys from start for d and counts outcomes.
func hammer(l *Limiter, keys []string, start time.Time, d time.Duration, workers int, pause time.Duration) clientResult {
	time.Sleep(time.Until(start))
	end := start.Add(d)
	var mu sync.Mutex
	res := clientResult{Admitted: make(map[string]int)}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			admitted := make([]int, len(keys))
			refused, unavailable := 0, 0
			for i := w; time.Now().Before(end); i++ {
				d := l.Allow([]byte(keys[i%len(keys)]))
				switch {
				case d.Allowed:
					admitted[i%len(keys)]++
				case d.Unavailable:
					unavailable++
				default:
					refused++
				}
				if pause > 0 {
					time.Sleep(pause)
				}
			}
			mu.Lock()
			for i, n := range admitted {
				res.Admitted[keys[i]] += n
			}
			res.Refused += refused
			res.Unavailable += unavailable
			mu.Unlock()
		})
	}
	wg.Wait()
	return res
}

// runClients starts n client processes on the same spec and sums their
// results.
func runClients(t *testing.T, n int, s clientSpec) clientResult {
	t.Helper()
	spec, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Until(s.Start)+s.Duration+30*time.Second)
	defer cancel()
	outs := make([]bytes.Buffer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+string(spec))
		cmd.Stdout = &outs[i]
		var stderr strings.Builder
		cmd.Stderr = &stderr
		wg.Go(func() {
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Errorf("client %d: %v\n%s", i, err, stderr.String())
			}
		})
	}
	wg.Wait()
	total := clientResult{Admitted: make(map[string]int)}
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		var r clientResult
		if err := json.Unmarshal(outs[i].Bytes(), &r); err != nil {
			t.Fatalf("client %d: %v in %q", i, err, outs[i].String())
		}
		for k, v := range r.Admitted {
			total.Admitted[k] += v
		}
		total.Refused += r.Refused
		total.Unavailable += r.Unavailable
		total.RedisErrors += r.RedisErrors
	}
	return total
}
