package metrics

import (
	"math"
	"sync/atomic"
	"time"
)

// latencyBuckets are the upper bounds, in seconds, of the latency
// histogram: fine below a millisecond, where a gateway's own share lives,
// and coarse up to the longest sane upstream timeout.
var latencyBuckets = [...]float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
}

// bucketNanos holds latencyBuckets in nanoseconds for integer compares.
var bucketNanos = func() (b [len(latencyBuckets)]int64) {
	for i, s := range latencyBuckets {
		b[i] = int64(math.Round(s * 1e9))
	}
	return b
}()

// Histogram is a fixed-bucket latency histogram. Safe for concurrent use.
type Histogram struct {
	counts [len(latencyBuckets) + 1]atomic.Uint64 // last: +Inf
	sumNs  atomic.Int64
}

// Observe records one duration.
func (h *Histogram) Observe(d time.Duration) {
	ns := int64(d)
	i := 0
	for i < len(bucketNanos) && ns > bucketNanos[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(ns)
}
