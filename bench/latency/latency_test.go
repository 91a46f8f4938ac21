package main

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A vegeta CSV as `vegeta encode --to csv` writes it: a failed request has
// an error text (which may hold commas, so it is quoted) and status 0.
const sample = `1000000000,200,1000000,0,1024,,,bench,0,GET,http://127.0.0.1:1/bench,
1250000000,200,2000000,0,1024,,,bench,1,GET,http://127.0.0.1:1/bench,
1500000000,200,3000000,0,1024,,,bench,2,GET,http://127.0.0.1:1/bench,
1750000000,0,5000000000,0,0,"Get ""http://127.0.0.1:1/bench"": timeout, gave up",,bench,3,GET,http://127.0.0.1:1/bench,
2000000000,503,4000000,0,90,,,bench,4,GET,http://127.0.0.1:1/bench,
`

func writeSample(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "r.csv")
	if err := os.WriteFile(p, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSummarize(t *testing.T) {
	rs, err := readResults(writeSample(t))
	if err != nil {
		t.Fatal(err)
	}
	s := summarize(rs)
	if s.Requests != 5 || s.OK != 3 {
		t.Fatalf("requests %d ok %d, want 5 and 3", s.Requests, s.OK)
	}
	// Five requests sent over one second are four intervals: 4 per second.
	if s.Rate != 4 {
		t.Errorf("rate %v, want 4", s.Rate)
	}
	// Sorted latencies in µs: 1000 2000 3000 4000 5000000; nearest rank.
	if s.P50us != 3000 || s.P99us != 5e6 || s.MaxUs != 5e6 {
		t.Errorf("p50 %v p99 %v max %v, want 3000, 5e6, 5e6", s.P50us, s.P99us, s.MaxUs)
	}
}

func TestReadResultsRejectsEmptyAndMalformed(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"empty": "", "short": "1,200,3\n", "letters": "x,200,3,0,0,\n"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := readResults(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestPlotWritesBothCharts(t *testing.T) {
	p := writeSample(t)
	out := filepath.Join(t.TempDir(), "chart")
	if err := plotCommand([]string{"-out", out, "-title", "test chart", "gateway=" + p, "nginx=" + p}); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"-latency.png", "-histogram.png"} {
		f, err := os.Open(out + suffix)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", suffix, err)
		}
		if b := img.Bounds(); b.Dx() != width || b.Dy() != height {
			t.Errorf("%s: %v, want %dx%d", suffix, b, width, height)
		}
	}
	if err := plotCommand([]string{"-out", out, "nginx"}); err == nil || !strings.Contains(err.Error(), "NAME=FILE") {
		t.Errorf("an argument without = gave %v", err)
	}
}

func TestEveryLabelCharacterHasAGlyph(t *testing.T) {
	for _, s := range []string{"latency (ms)", "time (s)", "% of requests", "10000 req/s for 10s, 1 KiB", "gateway", "HAProxy", "0.001"} {
		for _, r := range strings.ToUpper(s) {
			if _, ok := glyphs[r]; !ok {
				t.Errorf("%q: no glyph for %q", s, r)
			}
		}
	}
}
