package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
)

// result is one request of a vegeta attack.
type result struct {
	SentNs    int64 // when the request was sent, Unix nanoseconds
	LatencyNs int64
	OK        bool // 2xx or 3xx and no client-side error
}

// readResults reads a vegeta CSV: timestamp (Unix ns), status code, latency
// (ns), bytes out, bytes in, error, then fields this command does not use.
func readResults(path string) ([]result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	var rs []result
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(rec) < 6 {
			return nil, fmt.Errorf("%s:%d: %d fields, want at least 6", path, line, len(rec))
		}
		sent, err1 := strconv.ParseInt(rec[0], 10, 64)
		code, err2 := strconv.Atoi(rec[1])
		lat, err3 := strconv.ParseInt(rec[2], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		rs = append(rs, result{SentNs: sent, LatencyNs: lat, OK: code >= 200 && code < 400 && rec[5] == ""})
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("%s: no results", path)
	}
	return rs, nil
}

// summary is what stats prints; latencies in microseconds.
type summary struct {
	Requests, OK                        int
	Success, Rate                       float64
	P50us, P99us, P999us, MaxUs, MeanUs float64
}

func summarize(rs []result) summary {
	lat := make([]float64, len(rs))
	s := summary{Requests: len(rs)}
	first, last := rs[0].SentNs, rs[0].SentNs
	var sum float64
	for i, r := range rs {
		lat[i] = float64(r.LatencyNs) / 1e3
		sum += lat[i]
		if r.OK {
			s.OK++
		}
		first, last = min(first, r.SentNs), max(last, r.SentNs)
	}
	sort.Float64s(lat)
	s.Success = float64(s.OK) / float64(len(rs))
	if span := float64(last-first) / 1e9; span > 0 {
		// n requests sent over span seconds are n-1 intervals.
		s.Rate = float64(len(rs)-1) / span
	}
	s.P50us, s.P99us, s.P999us = quantile(lat, 0.50), quantile(lat, 0.99), quantile(lat, 0.999)
	s.MaxUs = lat[len(lat)-1]
	s.MeanUs = sum / float64(len(lat))
	return s
}

// quantile is the nearest-rank quantile of sorted xs.
func quantile(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
