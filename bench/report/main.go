// Command report turns the raw runs written by bench/run.sh into
// bench/results/latest.json and BENCHMARKS.md: medians per target over the
// rounds, ratios against nginx and against the bare backend, CPU cost per
// 100k requests, the suite's goals met or missed and by how much, vegeta's
// open-loop latencies with their charts, the machine, the versions, the
// exact commands and the gateway's CPU profiles, grouped into where the
// time goes.
//
// A scenario without nginx or the bare backend of its own (the access-log
// variants, the API key route) is compared with those of the plain 1 KiB
// scenario of the same run, and the table says so.
//
//	report -results bench/results -out BENCHMARKS.md
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// run is one wrk run: a row of latest-runs.tsv.
type run struct {
	Scenario    string  `json:"scenario"`
	Target      string  `json:"target"`
	Round       int     `json:"round"`
	Requests    float64 `json:"requests"`
	DurationS   float64 `json:"duration_s"`
	RPS         float64 `json:"rps"`
	P50us       float64 `json:"p50_us"`
	P99us       float64 `json:"p99_us"`
	P999us      float64 `json:"p999_us"`
	MeanUs      float64 `json:"mean_us"`
	Errors      float64 `json:"errors"`
	Non2xx      float64 `json:"non2xx"`
	BytesPerReq float64 `json:"bytes_per_req"`
	ProxyCPUs   float64 `json:"proxy_cpu_s"` // NaN for the direct target
	BackendCPUs float64 `json:"backend_cpu_s"`
	WrkCPUs     float64 `json:"wrk_cpu_s"`
	BusyCPUs    float64 `json:"machine_busy_cpu_s"` // all processes, all cores
}

// summary is one target of one scenario, medians over its rounds.
type summary struct {
	Target           string   `json:"target"`
	Label            string   `json:"label"`
	Rounds           int      `json:"rounds"`
	RPS              float64  `json:"rps_median"`
	RPSMin           float64  `json:"rps_min"`
	RPSMax           float64  `json:"rps_max"`
	P50us            float64  `json:"p50_us_median"`
	P99us            float64  `json:"p99_us_median"`
	P999us           float64  `json:"p999_us_median"`
	MeanUs           float64  `json:"mean_us_median"`
	ProxyCPUPer100k  *float64 `json:"proxy_cpu_s_per_100k_median"`
	BackendCPUPer100 float64  `json:"backend_cpu_s_per_100k_median"`
	ProxyCores       *float64 `json:"proxy_cores_median"`
	BackendCores     float64  `json:"backend_cores_median"`
	WrkCores         float64  `json:"wrk_cores_median"`
	OtherCores       float64  `json:"other_processes_cores_median"`
	IdleCores        float64  `json:"idle_cores_median"`
	Requests         float64  `json:"requests_total"`
	Errors           float64  `json:"socket_errors_total"`
	Non2xx           float64  `json:"non2xx_total"`
	BytesPerReq      float64  `json:"bytes_per_request"`
	VsNginx          *float64 `json:"rps_ratio_vs_nginx"`
	VsDirect         *float64 `json:"rps_ratio_vs_direct"`
	CPUVsNginx       *float64 `json:"cpu_ratio_vs_nginx"`
}

type scenario struct {
	ID        string `json:"id"`
	Title     string `json:"title"`
	BodyBytes int    `json:"body_bytes"`
	Nginx     string `json:"nginx_reference,omitempty"`
	Direct    string `json:"direct_reference,omitempty"`
	// NginxFrom and DirectFrom name the scenario the references were taken
	// from when it is not this one.
	NginxFrom  string    `json:"nginx_reference_scenario,omitempty"`
	DirectFrom string    `json:"direct_reference_scenario,omitempty"`
	Targets    []summary `json:"targets"`
}

type meta struct {
	order  []string
	values map[string][]string
}

func (m *meta) get(k string) string {
	if v := m.values[k]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

func main() {
	results := flag.String("results", "bench/results", "directory with latest-runs.tsv, latest-meta.tsv, latest-pprof.txt")
	out := flag.String("out", "BENCHMARKS.md", "markdown file to write")
	flag.Parse()
	if err := generate(*results, *out, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func generate(dir, out string, stdout io.Writer) error {
	runs, err := readRuns(filepath.Join(dir, "latest-runs.tsv"))
	if err != nil {
		return err
	}
	m, err := readMeta(filepath.Join(dir, "latest-meta.tsv"))
	if err != nil {
		return err
	}
	vruns, err := readVegeta(filepath.Join(dir, "latest-vegeta.tsv"))
	if err != nil {
		return err
	}
	var profiles []profile
	var profileTexts []string
	for _, id := range m.values["profile"] {
		text, err := os.ReadFile(filepath.Join(dir, "latest-pprof-"+id+".txt"))
		if errors.Is(err, os.ErrNotExist) {
			text = []byte("NOTE: The profile file is missing.")
		} else if err != nil {
			return err
		}
		p := parseProfile(string(text))
		p.Scenario, p.Target = id, m.get("profile."+id+".target")
		profiles = append(profiles, p)
		profileTexts = append(profileTexts, string(text))
	}
	scenarios := summarize(runs, m)
	if len(scenarios) == 0 && len(vruns) == 0 && m.get("limiter.cmd") == "" {
		return errors.New("no scenario, vegeta run or limiter run in latest-meta.tsv")
	}
	vsum := summarizeVegeta(vruns)
	lim, err := readLimiter(filepath.Join(dir, "latest-limiter.txt"))
	if err != nil {
		return err
	}
	gs := goals(scenarios, m, lim)

	doc := struct {
		Meta      map[string]any  `json:"meta"`
		Goals     []goal          `json:"goals"`
		Scenarios []scenario      `json:"scenarios"`
		Vegeta    []vegetaSummary `json:"vegeta"`
		Limiter   *limiterSummary `json:"limiter"`
		Profiles  []profile       `json:"profiles"`
		Runs      []run           `json:"runs"`
		Attacks   []vegetaRun     `json:"vegeta_runs"`
	}{Meta: map[string]any{}, Goals: gs, Scenarios: scenarios, Vegeta: vsum, Limiter: lim, Profiles: profiles, Runs: runs, Attacks: vruns}
	for _, k := range m.order {
		if v := m.values[k]; len(v) == 1 {
			doc.Meta[k] = v[0]
		} else {
			doc.Meta[k] = v
		}
	}
	for i := range doc.Runs {
		if math.IsNaN(doc.Runs[i].ProxyCPUs) {
			doc.Runs[i].ProxyCPUs = -1 // JSON has no NaN: -1 means "no proxy"
		}
	}
	js, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	// The reading of the profile is written by hand in bench/analysis.md,
	// next to the harness, and carried into every regenerated report.
	analysis, err := os.ReadFile(filepath.Join(filepath.Dir(dir), "analysis.md"))
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	md := markdown(report{scenarios: scenarios, meta: m, goals: gs, vegeta: vsum, limiter: lim, profiles: profiles,
		profileTexts: profileTexts, analysis: strings.TrimRight(string(analysis), "\n"), micro: microInfo(dir)})
	if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
		return err
	}
	printSummary(stdout, scenarios)
	return nil
}

func readRuns(path string) ([]run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var runs []run
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		if line == 1 || strings.TrimSpace(sc.Text()) == "" {
			continue // header
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 17 {
			return nil, fmt.Errorf("%s:%d: %d columns, want 17", path, line, len(c))
		}
		num := func(i int) float64 {
			if c[i] == "NA" {
				return math.NaN()
			}
			v, perr := strconv.ParseFloat(c[i], 64)
			if perr != nil && err == nil {
				err = fmt.Errorf("%s:%d: column %d: %v", path, line, i+1, perr)
			}
			return v
		}
		r := run{Scenario: c[0], Target: c[1], Round: int(num(2)), Requests: num(3), DurationS: num(4),
			RPS: num(5), P50us: num(6), P99us: num(7), P999us: num(8), MeanUs: num(9), Errors: num(10),
			Non2xx: num(11), BytesPerReq: num(12), ProxyCPUs: num(13), BackendCPUs: num(14), WrkCPUs: num(15), BusyCPUs: num(16)}
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, sc.Err()
}

func readMeta(path string) (*meta, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := &meta{values: map[string][]string{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue
		}
		if _, seen := m.values[k]; !seen {
			m.order = append(m.order, k)
		}
		m.values[k] = append(m.values[k], v)
	}
	return m, sc.Err()
}

func median(xs []float64) float64 {
	s := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return math.NaN()
	}
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func ptr(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

var labels = map[string]string{
	"direct":             "backend (direct)",
	"gateway":            "gateway",
	"gateway-log":        "gateway, access log on",
	"nginx":              "nginx",
	"nginx-log":          "nginx, access log on",
	"haproxy":            "HAProxy",
	"haproxy-log":        "HAProxy, access log on",
	"gateway-chain":      "gateway, full chain",
	"gateway-apikey":     "gateway, API key (Redis)",
	"gateway-429":        "gateway, 429 flood",
	"gateway-aggregate":  "gateway, aggregate of 5",
	"gateway-sequential": "gateway, 5 calls one by one",
	"gateway-10k":        "gateway, 10,000 routes",
}

func label(t string) string {
	if l, ok := labels[t]; ok {
		return l
	}
	return t
}

func summarize(runs []run, m *meta) []scenario {
	nproc, _ := strconv.ParseFloat(m.get("nproc"), 64)
	var out []scenario
	for _, id := range m.values["scenario"] {
		sc := scenario{ID: id, Title: m.get("scenario." + id + ".title")}
		sc.BodyBytes, _ = strconv.Atoi(m.get("scenario." + id + ".size"))
		targets := strings.Fields(m.get("scenario." + id + ".targets"))
		for _, ref := range []string{"nginx", "nginx-log"} {
			if contains(targets, ref) {
				sc.Nginx = ref
				break
			}
		}
		if contains(targets, "direct") {
			sc.Direct = "direct"
		}
		for _, t := range targets {
			var rps, p50, p99, p999, mean, pcpu, bcpu, pcores, bcores, wcores, ocores, idle []float64
			s := summary{Target: t, Label: label(t)}
			for _, r := range runs {
				if r.Scenario != id || r.Target != t {
					continue
				}
				s.Rounds++
				rps = append(rps, r.RPS)
				p50 = append(p50, r.P50us)
				p99 = append(p99, r.P99us)
				p999 = append(p999, r.P999us)
				mean = append(mean, r.MeanUs)
				pcpu = append(pcpu, r.ProxyCPUs/r.Requests*1e5)
				bcpu = append(bcpu, r.BackendCPUs/r.Requests*1e5)
				pcores = append(pcores, r.ProxyCPUs/r.DurationS)
				bcores = append(bcores, r.BackendCPUs/r.DurationS)
				wcores = append(wcores, r.WrkCPUs/r.DurationS)
				ours := r.BackendCPUs + r.WrkCPUs
				if !math.IsNaN(r.ProxyCPUs) {
					ours += r.ProxyCPUs
				}
				ocores = append(ocores, math.Max(0, r.BusyCPUs-ours)/r.DurationS)
				idle = append(idle, math.Max(0, nproc-r.BusyCPUs/r.DurationS))
				s.Requests += r.Requests
				s.Errors += r.Errors
				s.Non2xx += r.Non2xx
				s.BytesPerReq = r.BytesPerReq
			}
			if s.Rounds == 0 {
				continue
			}
			s.RPS = median(rps)
			s.RPSMin, s.RPSMax = minMax(rps)
			s.P50us, s.P99us, s.P999us, s.MeanUs = median(p50), median(p99), median(p999), median(mean)
			s.ProxyCPUPer100k = ptr(median(pcpu))
			s.BackendCPUPer100 = median(bcpu)
			s.ProxyCores = ptr(median(pcores))
			s.BackendCores = median(bcores)
			s.WrkCores = median(wcores)
			s.OtherCores = median(ocores)
			s.IdleCores = median(idle)
			sc.Targets = append(sc.Targets, s)
		}
		ref := func(t string) *summary {
			for i := range sc.Targets {
				if sc.Targets[i].Target == t {
					return &sc.Targets[i]
				}
			}
			return nil
		}
		ng, di := ref(sc.Nginx), ref(sc.Direct)
		// Borrow the plain 1 KiB scenario's references for a 1 KiB
		// scenario without its own; the aggregate measures latency at a few
		// connections, where a req/s ratio would mean nothing.
		if plain := plainScenario(out); plain != nil && sc.BodyBytes == 1024 && id != "aggregate" {
			if ng == nil {
				if ng = plain.find("nginx"); ng != nil {
					sc.Nginx, sc.NginxFrom = "nginx", plain.ID
				}
			}
			if di == nil {
				if di = plain.find("direct"); di != nil {
					sc.Direct, sc.DirectFrom = "direct", plain.ID
				}
			}
		}
		for i := range sc.Targets {
			s := &sc.Targets[i]
			if ng != nil {
				s.VsNginx = ptr(s.RPS / ng.RPS)
				if s.ProxyCPUPer100k != nil && ng.ProxyCPUPer100k != nil {
					s.CPUVsNginx = ptr(*s.ProxyCPUPer100k / *ng.ProxyCPUPer100k)
				}
			}
			if di != nil {
				s.VsDirect = ptr(s.RPS / di.RPS)
			}
		}
		out = append(out, sc)
	}
	return out
}

// plainScenario is the plain 1 KiB scenario among those summarised so far.
func plainScenario(scs []scenario) *scenario {
	for i := range scs {
		if scs[i].ID == "plain-1k" {
			return &scs[i]
		}
	}
	return nil
}

func (sc *scenario) find(target string) *summary {
	for i := range sc.Targets {
		if sc.Targets[i].Target == target {
			return &sc.Targets[i]
		}
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func minMax(xs []float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

func ms(us float64) string {
	if math.IsNaN(us) {
		return "—"
	}
	return fmt.Sprintf("%.2f ms", us/1000)
}

func ratio(x *float64) string {
	if x == nil {
		return "—"
	}
	return fmt.Sprintf("%.2f×", *x)
}

func num(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	s := strconv.FormatInt(int64(math.Round(x)), 10)
	// thousands separators
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func opt(x *float64, format string) string {
	if x == nil {
		return "—"
	}
	return fmt.Sprintf(format, *x)
}

func size(n int) string {
	switch {
	case n >= 1024 && n%1024 == 0:
		return fmt.Sprintf("%d KiB", n/1024)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

func printSummary(w io.Writer, scenarios []scenario) {
	for _, sc := range scenarios {
		fmt.Fprintf(w, "%s\n", sc.Title)
		for _, s := range sc.Targets {
			fmt.Fprintf(w, "  %-24s %10s req/s  p99 %9s  cpu/100k %6s  vs nginx %6s  vs direct %6s\n",
				s.Label, num(s.RPS), ms(s.P99us), opt(s.ProxyCPUPer100k, "%.2f"), ratio(s.VsNginx), ratio(s.VsDirect))
		}
	}
}
