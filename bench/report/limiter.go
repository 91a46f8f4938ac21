package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// limiterSummary is the limiter's part of a run (bench/lib/limiter.sh):
// medians over the counts of the Go benchmarks in latest-limiter.txt.
type limiterSummary struct {
	Counts int `json:"counts"`
	// Local against hybrid, ns per Allow, per algorithm and "single" or
	// "parallel".
	Allow []limiterAllow `json:"allow"`
	// Redis mode against redis-benchmark, per algorithm.
	Redis []limiterRedis `json:"redis"`
}

type limiterAllow struct {
	Algorithm string  `json:"algorithm"`
	Cores     string  `json:"cores"` // single or parallel
	LocalNs   float64 `json:"local_ns"`
	HybridNs  float64 `json:"hybrid_ns"`
	// Ratio is the median of the per-count hybrid/local ratios: each count
	// ran both side by side.
	Ratio float64 `json:"ratio"`
}

type limiterRedis struct {
	Algorithm string  `json:"algorithm"`
	Allow     float64 `json:"allow_per_s"`
	P1        float64 `json:"redis_benchmark_p1_per_s"`
	P16       float64 `json:"redis_benchmark_p16_per_s"`
	RatioP1   float64 `json:"ratio_p1"`
	RatioP16  float64 `json:"ratio_p16"`
}

// benchLine is one result line of `go test -bench`: the name without the
// GOMAXPROCS suffix, and its metrics by unit.
type benchLine struct {
	name    string
	metrics map[string]float64
}

// readBenchLines parses Go benchmark output; other lines are skipped.
func readBenchLines(r io.Reader) ([]benchLine, error) {
	var lines []benchLine
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		l := benchLine{name: name, metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				l.metrics[f[i+1]] = v
			}
		}
		lines = append(lines, l)
	}
	return lines, sc.Err()
}

// readLimiter reads latest-limiter.txt; nil when the run had no limiter
// step.
func readLimiter(path string) (*limiterSummary, error) {
	f, err := openIfExists(path)
	if f == nil {
		return nil, err
	}
	defer f.Close()
	lines, err := readBenchLines(f)
	if err != nil {
		return nil, err
	}
	return summarizeLimiter(lines), nil
}

// summarizeLimiter pairs the lines of each count: the n-th local line of a
// case with the n-th hybrid line, the n-th Allow rate with the n-th
// redis-benchmark rates, since one count ran them side by side.
func summarizeLimiter(lines []benchLine) *limiterSummary {
	series := map[string][]map[string]float64{}
	for _, l := range lines {
		series[l.name] = append(series[l.name], l.metrics)
	}
	s := &limiterSummary{}
	ratios := func(a, b []map[string]float64, ua, ub string) (ra, rb, r float64, n int) {
		var as, bs, rs []float64
		for i := range a {
			as = append(as, a[i][ua])
			if i < len(b) {
				bs = append(bs, b[i][ub])
				rs = append(rs, a[i][ua]/b[i][ub])
			}
		}
		return median(as), median(bs), median(rs), len(a)
	}
	for _, alg := range []string{"token_bucket", "sliding_window"} {
		for _, cores := range []string{"single", "parallel"} {
			local := series["BenchmarkAllow/local/"+alg+"/"+cores]
			hybrid := series["BenchmarkAllow/hybrid/"+alg+"/"+cores]
			if len(local) == 0 || len(hybrid) == 0 {
				continue
			}
			h, l, r, n := ratios(hybrid, local, "ns/op", "ns/op")
			if !finite(h, l, r) {
				continue
			}
			s.Allow = append(s.Allow, limiterAllow{Algorithm: alg, Cores: cores, LocalNs: l, HybridNs: h, Ratio: r})
			s.Counts = max(s.Counts, n)
		}
		rs := series["BenchmarkRedisAllow/"+alg]
		if len(rs) == 0 {
			continue
		}
		allow, p1, r1, n := ratios(rs, rs, "allow/s", "rb-P1/s")
		_, p16, r16, _ := ratios(rs, rs, "allow/s", "rb-P16/s")
		if !finite(allow, p1, r1, p16, r16) {
			continue
		}
		s.Redis = append(s.Redis, limiterRedis{Algorithm: alg, Allow: allow, P1: p1, P16: p16, RatioP1: r1, RatioP16: r16})
		s.Counts = max(s.Counts, n)
	}
	if len(s.Allow) == 0 && len(s.Redis) == 0 {
		return nil
	}
	return s
}

// limiterGoals are the limiter's targets: hybrid within 5% of local, and
// redis mode within 80% of redis-benchmark running the same script. Each
// is judged on its worst case.
func limiterGoals(s *limiterSummary) []goal {
	hyb := goal{Goal: "Hybrid limiter: Allow within 5% of local mode (worst case)", Limit: 1.05}
	p1 := goal{Goal: "Redis mode: Allow/s ≥ 0.8× redis-benchmark, same script and 50 clients (-P 1; worst case)", Limit: 0.8, Higher: true}
	p16 := goal{Goal: "Redis mode: Allow/s ≥ 0.8× redis-benchmark -P 16 (800 requests in flight against our 50; worst case)", Limit: 0.8, Higher: true}
	if s == nil {
		return []goal{hyb, p1, p16}
	}
	hyb.Value = math.Inf(-1)
	for _, a := range s.Allow {
		if a.Ratio > hyb.Value {
			hyb.Value = a.Ratio
			hyb.Measured = fmt.Sprintf("%.3f× (%s, %s: hybrid %.1f ns, local %.1f ns)", a.Ratio, algName(a.Algorithm), a.Cores, a.HybridNs, a.LocalNs)
		}
	}
	p1.Value, p16.Value = math.Inf(1), math.Inf(1)
	for _, r := range s.Redis {
		if r.RatioP1 < p1.Value {
			p1.Value = r.RatioP1
			p1.Measured = fmt.Sprintf("%.2f× (%s: %s vs %s req/s)", r.RatioP1, algName(r.Algorithm), num(r.Allow), num(r.P1))
		}
		if r.RatioP16 < p16.Value {
			p16.Value = r.RatioP16
			p16.Measured = fmt.Sprintf("%.2f× (%s: %s vs %s req/s)", r.RatioP16, algName(r.Algorithm), num(r.Allow), num(r.P16))
		}
	}
	return []goal{hyb, p1, p16}
}

// writeLimiter writes the limiter section of BENCHMARKS.md.
func writeLimiter(w func(string, ...any), s *limiterSummary, m *meta) {
	w("\n## Rate limiter: hybrid against local, redis mode against redis-benchmark\n\n")
	if s == nil {
		w("Not measured in this run (`ONLY` left out `limiter`).\n")
		return
	}
	w("Go benchmarks of `limiter/`, %d count(s), each a side-by-side pair; medians over the counts.\n", s.Counts)
	w("Command: `%s`.\n\n", m.get("limiter.cmd"))
	if len(s.Allow) > 0 {
		w("Allow on 1,024 tracked keys, from one goroutine (single) and from all cores (parallel).\n")
		w("Hybrid answers from its local buckets and sends its counts to Redis every 100 ms.\n\n")
		w("| algorithm | cores | local ns/op | hybrid ns/op | hybrid / local |\n| --- | --- | ---: | ---: | ---: |\n")
		for _, a := range s.Allow {
			w("| %s | %s | %.1f | %.1f | %.3f× |\n", algName(a.Algorithm), a.Cores, a.LocalNs, a.HybridNs, a.Ratio)
		}
		w("\n")
	}
	if len(s.Redis) > 0 {
		w("Redis mode: every Allow runs the policy's Lua script in Redis (EVALSHA through rueidis, which\n")
		w("pipelines the calls of 50 goroutines over its connection). redis-benchmark runs the same script\n")
		w("on the same keys against the same server from 50 connections: with one request in flight per\n")
		w("connection (-P 1), the concurrency of the 50 goroutines, and with 16 (-P 16), a pipelined\n")
		w("ceiling with 800 requests in flight that no request path reaches.\n\n")
		w("| algorithm | Allow/s | redis-benchmark -P 1 | ratio | redis-benchmark -P 16 | ratio |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
		for _, r := range s.Redis {
			w("| %s | %s | %s | %.2f× | %s | %.2f× |\n", algName(r.Algorithm), num(r.Allow), num(r.P1), r.RatioP1, num(r.P16), r.RatioP16)
		}
	}
}

// finite reports whether every x is a number JSON can hold: a benchmark
// line without the metric gives 0 and ratios of it infinities.
func finite(xs ...float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) || x == 0 {
			return false
		}
	}
	return true
}

// algName is an algorithm's name as the benchmarks spell it, in words.
func algName(alg string) string { return strings.ReplaceAll(alg, "_", " ") }
