// Command latency turns vegeta's results into what bench/run.sh records:
// a one-line summary per attack, and PNG charts of several attacks side by
// side. It reads the CSV that `vegeta encode --to csv` writes, so it needs
// nothing from vegeta's module, and it draws the charts with the standard
// library's image/png and a built-in bitmap font, so the suite needs no
// plotting package either.
//
//	latency stats FILE.csv
//	latency plot -out PREFIX -title TITLE NAME=FILE.csv [NAME=FILE.csv...]
//
// stats prints one line that run.sh parses:
//
//	LATENCY requests=N ok=N success=F rate=F p50_us=F p99_us=F p999_us=F max_us=F mean_us=F
//
// Percentiles are taken over every request, failed ones included, as
// vegeta's own report does; success is the share answered 2xx or 3xx
// without a client-side error, and rate is the rate vegeta achieved.
//
// plot writes PREFIX-latency.png (each request's latency against the time
// it was sent, one colour per attack) and PREFIX-histogram.png (the share
// of requests per latency bucket). Both latency axes are logarithmic, so a
// sub-millisecond median and a five-second timeout fit one chart.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "stats":
		if len(os.Args) != 3 {
			usage()
		}
		err = stats(os.Args[2])
	case "plot":
		err = plotCommand(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "latency:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, "usage:\n  latency stats FILE.csv\n  latency plot -out PREFIX -title TITLE NAME=FILE.csv...\n")
	os.Exit(2)
}

func stats(path string) error {
	rs, err := readResults(path)
	if err != nil {
		return err
	}
	s := summarize(rs)
	fmt.Printf("LATENCY requests=%d ok=%d success=%.6f rate=%.1f p50_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f mean_us=%.1f\n",
		s.Requests, s.OK, s.Success, s.Rate, s.P50us, s.P99us, s.P999us, s.MaxUs, s.MeanUs)
	return nil
}

func plotCommand(args []string) error {
	fs := flag.NewFlagSet("latency plot", flag.ContinueOnError)
	out := fs.String("out", "", "prefix of the PNG files to write (required)")
	title := fs.String("title", "", "chart title")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() == 0 {
		return fmt.Errorf("plot wants -out and at least one NAME=FILE.csv")
	}
	var series []series
	for _, a := range fs.Args() {
		name, path, ok := strings.Cut(a, "=")
		if !ok || name == "" || path == "" {
			return fmt.Errorf("plot: %q is not NAME=FILE.csv", a)
		}
		rs, err := readResults(path)
		if err != nil {
			return err
		}
		series = append(series, newSeries(name, rs))
	}
	if err := writePNG(*out+"-latency.png", latencyOverTime(*title, series)); err != nil {
		return err
	}
	return writePNG(*out+"-histogram.png", histogram(*title, series))
}
