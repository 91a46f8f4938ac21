package main

import (
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
	for _, g := range goals(scs, m) {
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
