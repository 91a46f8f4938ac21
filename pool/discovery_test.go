package pool

import (
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// portOf returns the port of a backend's address.
func portOf(tb testing.TB, addr string) uint16 {
	tb.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		tb.Fatal(err)
	}
	return uint16(p)
}

// addrs returns the sorted addresses of s's instances.
func addrs(s *Service) []string {
	var out []string
	for _, in := range s.Instances() {
		out = append(out, in.Addr())
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string { return slices.Sorted(slices.Values(s)) }

// TestDiscoverySRV follows a service through SRV answers the test changes:
// the first answer is there when New returns; added instances receive
// requests with their weights; removed ones stop receiving them, while
// their request in flight finishes and their connections close; a failed
// resolution changes nothing.
func TestDiscoverySRV(t *testing.T) {
	const name = "_users._tcp.pool.test"
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	b1 := startBackend(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/slow" {
			arrived <- struct{}{}
			<-release
		}
		ok(ctx)
	})
	b2, b3 := startBackend(t, ok), startBackend(t, ok)
	d := startDNS(t)
	for _, node := range []string{"node1", "node2", "node3"} {
		d.setIPs(node+".pool.test", "127.0.0.1")
	}
	d.setSRV(name, srvRecord{"node1.pool.test", portOf(t, b1.addr), 10, 0})

	s := newTestService(t, Options{
		Name:      "users",
		Balancer:  BalancerRoundRobin,
		Discovery: &Discovery{Name: name, Refresh: time.Hour, Resolver: d.addr},
	})
	if got := addrs(s); !slices.Equal(got, []string{b1.addr}) {
		t.Fatalf("instances after New: %v, want %v", got, []string{b1.addr})
	}
	if w := s.Instances()[0].Weight(); w != 1 {
		t.Errorf("weight of an SRV record of weight 0: %d, want 1", w)
	}

	// A request in flight on b1 while b1 leaves.
	slow := make(chan error, 1)
	var slowIn *Instance
	go func() {
		req := fasthttp.AcquireRequest()
		resp := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("/slow")
		req.Header.SetHost("svc.test")
		in, err := s.Do(req, resp, time.Now().Add(5*time.Second), 0)
		if err == nil && string(resp.Body()) != "ok" {
			t.Errorf("in-flight request answered %q", resp.Body())
		}
		slowIn = in
		slow <- err
	}()
	<-arrived

	// b1 moves to a backup priority; b2 and b3 take over, weighted 3:1.
	d.setSRV(name,
		srvRecord{"node2.pool.test", portOf(t, b2.addr), 10, 3},
		srvRecord{"node3.pool.test", portOf(t, b3.addr), 10, 1},
		srvRecord{"node1.pool.test", portOf(t, b1.addr), 20, 1},
	)
	if err := s.refresh(); err != nil {
		t.Fatal(err)
	}
	if got, want := addrs(s), sorted(b2.addr, b3.addr); !slices.Equal(got, want) {
		t.Fatalf("instances after the change: %v, want %v", got, want)
	}
	if w := findInstance(s, b2.addr).Weight(); w != 3 {
		t.Errorf("weight of node2: %d, want 3", w)
	}
	for range 40 {
		if in, err := get(t, s, "/"); err != nil || in.Addr() == b1.addr {
			t.Fatalf("request after b1 left: %v, %v", in, err)
		}
	}
	b2.assertHits(t, 30)
	b3.assertHits(t, 10)

	close(release)
	if err := <-slow; err != nil {
		t.Fatalf("request in flight on the removed instance: %v", err)
	}
	if slowIn == nil || slowIn.Addr() != b1.addr || slowIn.InFlight() != 0 {
		t.Fatalf("in-flight request ended on %v", slowIn)
	}
	b1.assertHits(t, 1)
	eventually(t, "the removed instance's connections closed", func() bool {
		return b1.srv.GetOpenConnectionsCount() == 0
	})

	// DNS fails: the instances stay and keep serving.
	d.setFailing(true)
	if err := s.refresh(); err == nil {
		t.Fatal("refresh succeeded against a failing DNS server")
	}
	if got, want := addrs(s), sorted(b2.addr, b3.addr); !slices.Equal(got, want) {
		t.Fatalf("instances after a failed resolution: %v, want %v", got, want)
	}
	if _, err := get(t, s, "/"); err != nil {
		t.Fatalf("request after a failed resolution: %v", err)
	}
	// So does an answer with no record left.
	d.setFailing(false)
	d.setSRV(name)
	if err := s.refresh(); err == nil {
		t.Fatal("refresh accepted an empty answer")
	}
	if got := addrs(s); len(got) != 2 {
		t.Fatalf("instances after an empty answer: %v, want the last two", got)
	}

	// A target that no longer exists is skipped, the rest applied.
	d.setSRV(name,
		srvRecord{"node3.pool.test", portOf(t, b3.addr), 10, 1},
		srvRecord{"gone.pool.test", 9, 10, 1},
	)
	if err := s.refresh(); err != nil {
		t.Fatal(err)
	}
	if got := addrs(s); !slices.Equal(got, []string{b3.addr}) {
		t.Fatalf("instances: %v, want %v", got, []string{b3.addr})
	}
}

// TestDiscoveryHostPort resolves "host:port" to A records, one instance per
// address, on loopback addresses of their own.
func TestDiscoveryHostPort(t *testing.T) {
	ln2, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 on this machine: %v", err)
	}
	port := portOf(t, ln2.Addr().String())
	ln3, err := net.Listen("tcp", net.JoinHostPort("127.0.0.3", strconv.Itoa(int(port))))
	if err != nil {
		_ = ln2.Close()
		t.Skipf("port %d taken on 127.0.0.3: %v", port, err)
	}
	b2, b3 := serveBackend(t, ln2, ok), serveBackend(t, ln3, ok)
	d := startDNS(t)
	d.setIPs("users.pool.test", "127.0.0.2", "127.0.0.3")

	s := newTestService(t, Options{
		Balancer:  BalancerRoundRobin,
		Discovery: &Discovery{Name: "users.pool.test:" + strconv.Itoa(int(port)), Resolver: d.addr},
	})
	if got, want := addrs(s), sorted(b2.addr, b3.addr); !slices.Equal(got, want) {
		t.Fatalf("instances: %v, want %v", got, want)
	}
	for range 4 {
		if _, err := get(t, s, "/"); err != nil {
			t.Fatal(err)
		}
	}
	b2.assertHits(t, 2)
	b3.assertHits(t, 2)

	d.setIPs("users.pool.test", "127.0.0.3")
	if err := s.refresh(); err != nil {
		t.Fatal(err)
	}
	if got := addrs(s); !slices.Equal(got, []string{b3.addr}) {
		t.Fatalf("instances: %v, want %v", got, []string{b3.addr})
	}
}

// TestDiscoveryStartsEmptyAndRecovers starts a service while DNS fails:
// New still succeeds, requests get ErrUnavailable without delay, and the
// refresh loop picks the instances up once DNS answers.
func TestDiscoveryStartsEmptyAndRecovers(t *testing.T) {
	const name = "_users._tcp.pool.test"
	b := startBackend(t, ok)
	d := startDNS(t)
	d.setIPs("node1.pool.test", "127.0.0.1")
	d.setSRV(name, srvRecord{"node1.pool.test", portOf(t, b.addr), 10, 1})
	d.setFailing(true)

	s := newTestService(t, Options{
		Discovery:   &Discovery{Name: name, Refresh: 20 * time.Millisecond, Resolver: d.addr},
		HealthCheck: &HealthCheck{Path: "/", Interval: time.Hour, Timeout: time.Second},
	})
	if n := len(s.Instances()); n != 0 {
		t.Fatalf("%d instances while DNS fails, want none", n)
	}
	if _, err := get(t, s, "/"); err != ErrUnavailable {
		t.Fatalf("Do without instances: %v, want ErrUnavailable", err)
	}

	d.setFailing(false)
	eventually(t, "discovered", func() bool { return len(s.Instances()) == 1 })
	if in, err := get(t, s, "/"); err != nil || in.Addr() != b.addr {
		t.Fatalf("Do after discovery: %v, %v", in, err)
	}
	// The discovered instance is checked like a static one.
	s.checkRound()
	if !s.Instances()[0].Healthy() {
		t.Error("discovered instance failed its health check")
	}
}

// TestSetMembersKeepsStayingInstances applies two answers directly: an
// address that stays keeps its instance (counters, connections, health)
// with its new weight; one that goes is retired; the round-robin schedule
// follows the weights.
func TestSetMembersKeepsStayingInstances(t *testing.T) {
	s := newTestService(t, Options{Name: "users", Balancer: BalancerRoundRobin})
	s.setMembers([]target{{"10.0.0.1:80", 1}, {"10.0.0.2:80", 1}})
	a, b := findInstance(s, "10.0.0.1:80"), findInstance(s, "10.0.0.2:80")
	a.requests.Add(7)

	s.setMembers([]target{{"10.0.0.1:80", 3}, {"10.0.0.3:80", 1}})
	if got := findInstance(s, "10.0.0.1:80"); got != a || got.Requests() != 7 || got.Weight() != 3 {
		t.Errorf("staying instance replaced or not reweighted: %p (was %p), weight %d", got, a, got.Weight())
	}
	if !b.retired.Load() || findInstance(s, "10.0.0.2:80") != nil {
		t.Error("leaving instance not retired")
	}
	counts := map[string]int{}
	for _, in := range s.snap.Load().bal.(*roundRobin).schedule {
		counts[in.addr]++
	}
	if counts["10.0.0.1:80"] != 3 || counts["10.0.0.3:80"] != 1 {
		t.Errorf("schedule turns %v, want 3 and 1", counts)
	}

	// A retired instance's health no longer changes anything.
	before := s.snap.Load()
	if s.setUp(b, false, "test") || s.snap.Load() != before {
		t.Error("a retired instance's health change published a snapshot")
	}
	// An unchanged answer publishes nothing.
	s.setMembers([]target{{"10.0.0.1:80", 3}, {"10.0.0.3:80", 1}})
	if s.snap.Load() != before {
		t.Error("an unchanged answer published a snapshot")
	}
}
