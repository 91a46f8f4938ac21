package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gatewayBin is the gateway binary, built once by TestMain.
var gatewayBin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

// buildAndRun builds ./cmd/gateway from the module root into a temporary
// directory, without the race detector whatever the test binary uses: the
// scenarios load the gateway as it ships. LOADTEST_GATEWAY, when set,
// names a binary to load instead (a release build, say), and nothing is
// built.
func buildAndRun(m *testing.M) int {
	if bin := os.Getenv("LOADTEST_GATEWAY"); bin != "" {
		gatewayBin = bin
		return m.Run()
	}
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || len(bytes.TrimSpace(gomod)) == 0 {
		fmt.Fprintf(os.Stderr, "loadtest: cannot find the module root: %v\n", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "loadtest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	gatewayBin = filepath.Join(dir, "gateway")
	build := exec.Command("go", "build", "-o", gatewayBin, "./cmd/gateway")
	build.Dir = filepath.Dir(string(bytes.TrimSpace(gomod)))
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "loadtest: go build ./cmd/gateway: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// readyTimeout bounds how long a gateway may take to answer /readyz.
const readyTimeout = 15 * time.Second

// gatewayProc is one running gateway process on loopback ports.
type gatewayProc struct {
	// Addr is the plain listener, Admin the admin listener (host:port).
	Addr, Admin string
	// Dir holds the configuration file and the process's log.
	Dir string

	cmd  *exec.Cmd
	exit chan struct{}
}

// startGateway writes yaml as gateway.yaml in a fresh directory and runs
// the gateway on it with free loopback ports, its output in gateway.log.
// It returns once /readyz answers 200 (Redis reachable, when configured).
// The process gets SIGTERM when the test ends, and its log's tail is
// printed if the test failed.
func startGateway(t testing.TB, yaml string) *gatewayProc {
	t.Helper()
	dir := t.TempDir()
	writeConfig(t, dir, yaml)
	return startGatewayIn(t, dir)
}

// writeConfig writes yaml as dir/gateway.yaml and returns its path.
func writeConfig(t testing.TB, dir, yaml string) string {
	t.Helper()
	cfg := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startGatewayIn runs the gateway on dir/gateway.yaml, which writeConfig
// wrote (with the files it names beside it); see startGateway.
func startGatewayIn(t testing.TB, dir string) *gatewayProc {
	t.Helper()
	ports := freeAddrs(t, 2)
	g := &gatewayProc{Addr: ports[0], Admin: ports[1], Dir: dir, exit: make(chan struct{})}
	cfg := filepath.Join(g.Dir, "gateway.yaml")
	logFile, err := os.Create(filepath.Join(g.Dir, "gateway.log"))
	if err != nil {
		t.Fatal(err)
	}
	g.cmd = exec.Command(gatewayBin, "-config", cfg, "-listen", g.Addr, "-admin", g.Admin, "-log-level", "warn")
	g.cmd.Env = cleanEnv()
	g.cmd.Stdout, g.cmd.Stderr = logFile, logFile
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = g.cmd.Wait()
		logFile.Close()
		close(g.exit)
	}()
	t.Cleanup(func() {
		g.stop()
		if t.Failed() {
			t.Logf("gateway %s log tail:\n%s", g.Addr, tail(filepath.Join(g.Dir, "gateway.log"), 30))
		}
	})
	deadline := time.Now().Add(readyTimeout)
	for {
		if status, _, err := g.admin("/readyz"); err == nil && status == http.StatusOK {
			return g
		}
		select {
		case <-g.exit:
			t.Fatalf("gateway exited before it was ready:\n%s", tail(filepath.Join(g.Dir, "gateway.log"), 30))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not ready within %v:\n%s", readyTimeout, tail(filepath.Join(g.Dir, "gateway.log"), 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for the exit, killing the process if the
// drain takes more than a few seconds.
func (g *gatewayProc) stop() {
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exit:
	case <-time.After(5 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.exit
	}
}

// Pid is the process id.
func (g *gatewayProc) Pid() int { return g.cmd.Process.Pid }

// adminClient reads the admin listener; its timeout keeps a wedged
// gateway from hanging a test.
var adminClient = &http.Client{Timeout: 5 * time.Second}

// admin GETs path on the admin listener.
func (g *gatewayProc) admin(path string) (int, string, error) {
	resp, err := adminClient.Get("http://" + g.Admin + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, err = bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String(), err
}

// rssBytes reads the process's resident set from /proc/PID/status.
func (g *gatewayProc) rssBytes() (int64, error) {
	return procStatusBytes(g.Pid(), "VmRSS:")
}

// procStatusBytes reads one "Name:   N kB" line of /proc/PID/status.
func procStatusBytes(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// runGateway runs a gateway command (keys issue, check) to completion
// and returns its standard output.
func runGateway(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, gatewayBin, args...)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gateway %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// cleanEnv is the test's environment without GATEWAY_* variables, so
// that a developer's settings cannot override the scenario's file.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEWAY_") {
			env = append(env, kv)
		}
	}
	return env
}

// freeAddrs returns n distinct loopback addresses that were free a moment
// ago. The listeners stay open until all n are chosen: closed one by one,
// the kernel would hand out the same port again.
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs[i] = ln.Addr().String()
	}
	return addrs
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// metric sums the samples of the /metrics series name whose labels
// include every one of labels (written as in the exposition, such as
// policy="global"). A scrape that fails counts as a test error.
func (g *gatewayProc) metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	status, body, err := g.admin("/metrics")
	if err != nil || status != http.StatusOK {
		t.Errorf("scrape %s/metrics: status %d, %v", g.Admin, status, err)
		return 0
	}
	sum := 0.0
	for line := range strings.SplitSeq(body, "\n") {
		series, value, ok := strings.Cut(line, " ")
		if !ok || (series != name && !strings.HasPrefix(series, name+"{")) {
			continue
		}
		matches := true
		for _, l := range labels {
			matches = matches && strings.Contains(series, l)
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil && matches {
			sum += v
		}
	}
	return sum
}

// degraded sums gateway_ratelimit_degraded_total of policy over gateways:
// the decisions taken from local buckets because Redis did not answer in
// time.
func degraded(t testing.TB, gws []*gatewayProc, policy string) int {
	n := 0.0
	for _, g := range gws {
		n += g.metric(t, "gateway_ratelimit_degraded_total", `policy="`+policy+`"`)
	}
	return int(n)
}

// addrs returns the gateways' listen addresses.
func addrs(gws []*gatewayProc) []string {
	a := make([]string, len(gws))
	for i, g := range gws {
		a[i] = g.Addr
	}
	return a
}

// heapAndGoroutines reads the live heap (HeapAlloc right after a forced
// GC) and the goroutine count through the admin listener's pprof
// endpoints: /metrics has no go_* series.
func (g *gatewayProc) heapAndGoroutines() (heap int64, goroutines int, err error) {
	_, body, err := g.admin("/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return 0, 0, err
	}
	if heap, err = numberAfter(body, "# HeapAlloc = "); err != nil {
		return 0, 0, err
	}
	_, body, err = g.admin("/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, 0, err
	}
	n, err := numberAfter(body, "goroutine profile: total ")
	return heap, int(n), err
}

// numberAfter parses the decimal number that follows prefix in text.
func numberAfter(text, prefix string) (int64, error) {
	i := strings.Index(text, prefix)
	if i < 0 {
		return 0, fmt.Errorf("no %q in the profile", prefix)
	}
	rest := text[i+len(prefix):]
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(rest)
	}
	return strconv.ParseInt(rest[:end], 10, 64)
}
