package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// vegetaRun is one vegeta attack: a row of latest-vegeta.tsv.
type vegetaRun struct {
	Rate        int     `json:"rate"`
	Target      string  `json:"target"`
	Round       int     `json:"round"`
	Requests    float64 `json:"requests"`
	OK          float64 `json:"ok"`
	Success     float64 `json:"success"`
	AchievedRPS float64 `json:"achieved_rps"`
	P50us       float64 `json:"p50_us"`
	P99us       float64 `json:"p99_us"`
	P999us      float64 `json:"p999_us"`
	MaxUs       float64 `json:"max_us"`
	MeanUs      float64 `json:"mean_us"`
	ProxyCPUs   float64 `json:"proxy_cpu_s"`
}

// vegetaSummary is one target at one rate, medians over its rounds.
type vegetaSummary struct {
	Rate            int      `json:"rate"`
	Target          string   `json:"target"`
	Label           string   `json:"label"`
	Rounds          int      `json:"rounds"`
	AchievedRPS     float64  `json:"achieved_rps_median"`
	Success         float64  `json:"success_ratio_median"`
	P50us           float64  `json:"p50_us_median"`
	P99us           float64  `json:"p99_us_median"`
	P999us          float64  `json:"p999_us_median"`
	MaxUs           float64  `json:"max_us_median"`
	ProxyCPUPer100k *float64 `json:"proxy_cpu_s_per_100k_median"`
	P99VsNginx      *float64 `json:"p99_ratio_vs_nginx"`
}

// readVegeta reads latest-vegeta.tsv; a run without vegeta has none.
func readVegeta(path string) ([]vegetaRun, error) {
	f, err := openIfExists(path)
	if f == nil {
		return nil, err
	}
	defer f.Close()
	var runs []vegetaRun
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if line == 1 || strings.TrimSpace(sc.Text()) == "" {
			continue // header
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 13 {
			return nil, fmt.Errorf("%s:%d: %d columns, want 13", path, line, len(c))
		}
		var v [13]float64
		for i := range c {
			if i == 1 {
				continue
			}
			if v[i], err = strconv.ParseFloat(c[i], 64); err != nil {
				return nil, fmt.Errorf("%s:%d: column %d: %v", path, line, i+1, err)
			}
		}
		runs = append(runs, vegetaRun{Rate: int(v[0]), Target: c[1], Round: int(v[2]), Requests: v[3], OK: v[4],
			Success: v[5], AchievedRPS: v[6], P50us: v[7], P99us: v[8], P999us: v[9], MaxUs: v[10], MeanUs: v[11], ProxyCPUs: v[12]})
	}
	return runs, sc.Err()
}

// summarizeVegeta groups the attacks by rate and target, in the order the
// run made them.
func summarizeVegeta(runs []vegetaRun) []vegetaSummary {
	var out []vegetaSummary
	index := map[[2]string]int{}
	var cols [][7][]float64
	for _, r := range runs {
		k := [2]string{strconv.Itoa(r.Rate), r.Target}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, vegetaSummary{Rate: r.Rate, Target: r.Target, Label: label(r.Target)})
			cols = append(cols, [7][]float64{})
		}
		out[i].Rounds++
		c := &cols[i]
		for j, x := range []float64{r.AchievedRPS, r.Success, r.P50us, r.P99us, r.P999us, r.MaxUs, r.ProxyCPUs / r.Requests * 1e5} {
			c[j] = append(c[j], x)
		}
	}
	for i := range out {
		c := cols[i]
		s := &out[i]
		s.AchievedRPS, s.Success, s.P50us, s.P99us = median(c[0]), median(c[1]), median(c[2]), median(c[3])
		s.P999us, s.MaxUs, s.ProxyCPUPer100k = median(c[4]), median(c[5]), ptr(median(c[6]))
	}
	for i := range out {
		if j, ok := index[[2]string{strconv.Itoa(out[i].Rate), "nginx"}]; ok {
			out[i].P99VsNginx = ptr(out[i].P99us / out[j].P99us)
		}
	}
	return out
}

// openIfExists opens path; a missing file gives a nil file and no error,
// for the results of steps a run may leave out.
func openIfExists(path string) (*os.File, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return f, err
}
