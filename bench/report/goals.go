package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// goal is one target of the suite, measured against this run's numbers.
type goal struct {
	Goal     string  `json:"goal"`
	Measured string  `json:"measured"`
	Value    float64 `json:"value"`
	Limit    float64 `json:"limit"`
	// Higher: the value must reach the limit; otherwise stay under it
	// (strictly, when Strict).
	Higher bool   `json:"higher_is_better"`
	Strict bool   `json:"strict"`
	Met    *bool  `json:"met"` // nil when this run did not measure it
	Margin string `json:"margin"`
}

func find(scenarios []scenario, id, target string) *summary {
	for i := range scenarios {
		if scenarios[i].ID != id {
			continue
		}
		for j := range scenarios[i].Targets {
			if scenarios[i].Targets[j].Target == target {
				return &scenarios[i].Targets[j]
			}
		}
	}
	return nil
}

// aggregateBudget is the aggregate's latency goal: its slowest call plus
// 10%, from the call delays run.sh records.
func aggregateBudget(m *meta) (slowestMs, budgetUs float64, ok bool) {
	for _, f := range strings.Fields(m.get("aggregate.calls_ms")) {
		if v, err := strconv.ParseFloat(f, 64); err == nil {
			slowestMs = math.Max(slowestMs, v)
		}
	}
	return slowestMs, slowestMs * 1.1 * 1000, slowestMs > 0
}

// goals evaluates the suite's targets; a goal whose scenario did not run is
// listed as not measured. lim is nil when the run had no limiter step.
func goals(scenarios []scenario, m *meta, lim *limiterSummary) []goal {
	var gs []goal
	add := func(g goal, measured bool) {
		if measured && !math.IsNaN(g.Value) && !math.IsInf(g.Value, 0) {
			met := g.Value >= g.Limit
			if !g.Higher {
				met = g.Value <= g.Limit
				if g.Strict {
					met = g.Value < g.Limit
				}
			}
			g.Met = &met
			g.Margin = margin(g, met)
		} else {
			g.Measured, g.Margin = "not measured in this run", "—"
		}
		gs = append(gs, g)
	}
	for _, p := range []struct{ id, name string }{{"plain-1k", "1 KiB"}, {"plain-64k", "64 KiB"}} {
		gw, ng, hp := find(scenarios, p.id, "gateway"), find(scenarios, p.id, "nginx"), find(scenarios, p.id, "haproxy")
		g := goal{Goal: "Plain proxy, " + p.name + ": gateway req/s ≥ 1.2× nginx", Limit: 1.2, Higher: true}
		if gw != nil && ng != nil {
			g.Value = gw.RPS / ng.RPS
			g.Measured = fmt.Sprintf("%.2f× (%s vs %s req/s)", g.Value, num(gw.RPS), num(ng.RPS))
		}
		add(g, gw != nil && ng != nil)
		g = goal{Goal: "Plain proxy, " + p.name + ": gateway req/s ≥ HAProxy", Limit: 1, Higher: true}
		if gw != nil && hp != nil {
			g.Value = gw.RPS / hp.RPS
			g.Measured = fmt.Sprintf("%.2f× (%s vs %s req/s)", g.Value, num(gw.RPS), num(hp.RPS))
		}
		add(g, gw != nil && hp != nil)
		g = goal{Goal: "Plain proxy, " + p.name + ": gateway p99 ≤ nginx p99", Limit: 1}
		if gw != nil && ng != nil {
			g.Value = gw.P99us / ng.P99us
			g.Measured = fmt.Sprintf("%.2f× (%s vs %s)", g.Value, ms(gw.P99us), ms(ng.P99us))
		}
		add(g, gw != nil && ng != nil)
	}

	ch, ng := find(scenarios, "full-chain", "gateway-chain"), find(scenarios, "full-chain", "nginx")
	g := goal{Goal: "Full chain (JWT, limit, headers, access log): req/s ≥ nginx plain proxy", Limit: 1, Higher: true}
	if ch != nil && ng != nil {
		g.Value = ch.RPS / ng.RPS
		g.Measured = fmt.Sprintf("%.2f× (%s vs %s req/s)", g.Value, num(ch.RPS), num(ng.RPS))
	}
	add(g, ch != nil && ng != nil)

	fl, px := find(scenarios, "flood-429", "gateway-429"), find(scenarios, "flood-429", "gateway")
	g = goal{Goal: "429 flood: CPU per 429 < 0.1× CPU per proxied request", Limit: 0.1, Strict: true}
	ok := fl != nil && px != nil && fl.ProxyCPUPer100k != nil && px.ProxyCPUPer100k != nil
	if ok {
		g.Value = *fl.ProxyCPUPer100k / *px.ProxyCPUPer100k
		g.Measured = fmt.Sprintf("%.3f× (%.2f vs %.2f CPU s / 100k)", g.Value, *fl.ProxyCPUPer100k, *px.ProxyCPUPer100k)
	}
	add(g, ok)

	ag := find(scenarios, "aggregate", "gateway-aggregate")
	slowest, budget, known := aggregateBudget(m)
	g = goal{Goal: "Aggregate of 5 calls: p50 ≤ slowest call + 10%", Limit: 1}
	if known {
		g.Goal += fmt.Sprintf(" (%.1f ms)", budget/1000)
	}
	if ag != nil && known {
		g.Value = ag.P50us / budget
		g.Measured = fmt.Sprintf("%s (slowest call %.0f ms)", ms(ag.P50us), slowest)
	}
	add(g, ag != nil && known)

	for _, g := range limiterGoals(lim) {
		add(g, g.Measured != "")
	}
	return gs
}

// margin says by how much a goal was met or missed.
func margin(g goal, met bool) string {
	r := g.Value / g.Limit
	switch {
	case g.Higher && met:
		return fmt.Sprintf("met, %s above", percent(r-1))
	case g.Higher:
		return fmt.Sprintf("missed, %s short (needs %.2f× the measured value)", percent(1-r), 1/r)
	case met:
		return fmt.Sprintf("met, %s under", percent(1-r))
	default:
		return fmt.Sprintf("missed, %s over the limit", percent(r-1))
	}
}

// percent formats a fraction, with a decimal when it is small enough for
// rounding to hide it.
func percent(x float64) string {
	if math.Abs(x) < 0.1 {
		return fmt.Sprintf("%.1f%%", x*100)
	}
	return fmt.Sprintf("%.0f%%", x*100)
}
