package main

import (
	"math"
	"strings"
	"testing"
)

const pprofSample = `File: gateway
Type: cpu
Duration: 5s, Total samples = 4.79s (95.78%)
Showing nodes accounting for 4.79s, 100% of 4.79s total
      flat  flat%   sum%        cum   cum%
     2.00s 40.00% 40.00%      2.00s 40.00%  internal/runtime/syscall/linux.Syscall6
     1.00s 20.00% 60.00%      1.50s 30.00%  github.com/valyala/fasthttp.(*ResponseHeader).parseFirstLine
     0.50s 10.00% 70.00%      0.50s 10.00%  github.com/edgegate/gateway/edge.(*Gateway).serve
     0.25s  5.00% 75.00%      0.25s  5.00%  github.com/edgegate/gateway/jwtcache.(*JWT).Verify (inline)
     0.50s 10.00% 85.00%      0.50s 10.00%  runtime.scanobject
     0.50s 10.00% 95.00%      0.50s 10.00%  runtime.findRunnable
     0.25s  5.00%   100%      0.25s  5.00%  crypto/sha256.block
`

func TestParseProfileGroups(t *testing.T) {
	p := parseProfile(pprofSample)
	if len(p.Rows) != 7 {
		t.Fatalf("%d rows, want 7", len(p.Rows))
	}
	want := map[string]float64{
		"system calls and the netpoller":                40,
		"fasthttp parsing and writing":                  20,
		"gateway stages":                                15,
		"GC and allocation":                             10,
		"scheduler, timers and the rest of the runtime": 10,
		"other (standard library, crypto, hashing)":     5,
	}
	for _, g := range p.Groups {
		if w, ok := want[g.Name]; ok && g.Pct != w {
			t.Errorf("%s: %.1f%%, want %.1f%%", g.Name, g.Pct, w)
		}
	}
	para := p.paragraph()
	for _, s := range []string{"**40% system calls", "edge 10.0%, jwtcache 5.0%", "`jwtcache.(*JWT).Verify` 5.0%"} {
		if !strings.Contains(para, s) {
			t.Errorf("paragraph lacks %q:\n%s", s, para)
		}
	}
	if top := topText(pprofSample, 2); !strings.HasSuffix(top, "parseFirstLine") {
		t.Errorf("top 2 ends with %q", top[len(top)-40:])
	}
	if n := parseProfile("NOTE: No CPU profile."); n.Note != "No CPU profile." || n.paragraph() != "" {
		t.Errorf("note %q paragraph %q", n.Note, n.paragraph())
	}
}

func TestGoals(t *testing.T) {
	m := &meta{values: map[string][]string{"aggregate.calls_ms": {"5 10 15 20 25"}}}
	scs := []scenario{
		{ID: "plain-1k", Targets: []summary{
			{Target: "gateway", RPS: 60000, P99us: 4000},
			{Target: "nginx", RPS: 50000, P99us: 5000},
			{Target: "haproxy", RPS: 70000},
		}},
		{ID: "aggregate", Targets: []summary{{Target: "gateway-aggregate", P50us: 33000}}},
	}
	byGoal := map[string]goal{}
	for _, g := range goals(scs, m, nil) {
		byGoal[g.Goal] = g
	}
	check := func(name string, met *bool, margin string) {
		t.Helper()
		g, ok := byGoal[name]
		if !ok {
			t.Fatalf("no goal %q", name)
		}
		if (g.Met == nil) != (met == nil) || (met != nil && *g.Met != *met) || g.Margin != margin {
			t.Errorf("%s: met %v margin %q, want %v %q", name, g.Met, g.Margin, met, margin)
		}
	}
	yes, no := true, false
	check("Plain proxy, 1 KiB: gateway req/s ≥ 1.2× nginx", &yes, "met, 0.0% above")
	check("Plain proxy, 1 KiB: gateway req/s ≥ HAProxy", &no, "missed, 14% short (needs 1.17× the measured value)")
	check("Plain proxy, 1 KiB: gateway p99 ≤ nginx p99", &yes, "met, 20% under")
	check("Plain proxy, 64 KiB: gateway req/s ≥ HAProxy", nil, "—")
	check("Aggregate of 5 calls: p50 ≤ slowest call + 10% (27.5 ms)", &no, "missed, 20% over the limit")
}

// limiterSample is two counts of bench/lib/limiter.sh's output, trimmed.
const limiterSample = `goos: linux
pkg: github.com/edgegate/gateway/limiter
BenchmarkAllow/local/token_bucket/single-2         	 1000	        50.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkAllow/local/token_bucket/parallel-2       	 1000	        40.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkAllow/hybrid/token_bucket/single-2        	 1000	        51.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkAllow/hybrid/token_bucket/parallel-2      	 1000	        44.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkRedisAllow/token_bucket-2                 	 2000	     15000 ns/op	     60000 allow/s	         1.200 ratio-P1	         0.6000 ratio-P16	     50000 rb-P1/s	    100000 rb-P16/s	       3 B/op	       0 allocs/op
BenchmarkAllow/local/token_bucket/single-2         	 1000	        60.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkAllow/local/token_bucket/parallel-2       	 1000	        50.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkAllow/hybrid/token_bucket/single-2        	 1000	        60.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkAllow/hybrid/token_bucket/parallel-2      	 1000	        52.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkRedisAllow/token_bucket-2                 	 2000	     15000 ns/op	     90000 allow/s	         1.500 ratio-P1	         0.9000 ratio-P16	     60000 rb-P1/s	    100000 rb-P16/s	       3 B/op	       0 allocs/op
PASS
`

func TestLimiterSummaryAndGoals(t *testing.T) {
	lines, err := readBenchLines(strings.NewReader(limiterSample))
	if err != nil || len(lines) != 10 {
		t.Fatalf("%d lines, %v", len(lines), err)
	}
	s := summarizeLimiter(lines)
	if s == nil || s.Counts != 2 || len(s.Allow) != 2 || len(s.Redis) != 1 {
		t.Fatalf("summary %+v", s)
	}
	// Ratios are taken per count, then the median: parallel 1.1 and 1.04.
	if a := s.Allow[1]; a.Cores != "parallel" || a.LocalNs != 45 || a.HybridNs != 48 || math.Abs(a.Ratio-1.07) > 1e-9 {
		t.Errorf("parallel %+v", a)
	}
	if r := s.Redis[0]; r.Allow != 75000 || r.P1 != 55000 || r.RatioP1 != 1.35 || r.RatioP16 != 0.75 {
		t.Errorf("redis %+v", r)
	}

	byGoal := map[string]goal{}
	for _, g := range goals(nil, &meta{values: map[string][]string{}}, s) {
		byGoal[g.Goal] = g
	}
	want := map[string]string{
		"Hybrid limiter: Allow within 5% of local mode (worst case)":                                           "missed, 1.9% over the limit",
		"Redis mode: Allow/s ≥ 0.8× redis-benchmark, same script and 50 clients (-P 1; worst case)":            "met, 69% above",
		"Redis mode: Allow/s ≥ 0.8× redis-benchmark -P 16 (800 requests in flight against our 50; worst case)": "missed, 6.2% short (needs 1.07× the measured value)",
	}
	for name, margin := range want {
		if g, ok := byGoal[name]; !ok || g.Margin != margin {
			t.Errorf("%s: %+v, want margin %q", name, g, margin)
		}
	}
	for _, g := range goals(nil, &meta{values: map[string][]string{}}, nil) {
		if strings.Contains(g.Goal, "limiter") && g.Met != nil {
			t.Errorf("%s measured without a limiter run", g.Goal)
		}
	}
}
