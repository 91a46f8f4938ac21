package compress

import (
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"
)

var (
	encodingSink Encoding
	stringSink   string
)

func BenchmarkNegotiate(b *testing.B) {
	for _, h := range []string{
		"gzip, deflate, br, zstd",
		"br, gzip;q=0.5, zstd;q=0.4, *;q=0",
	} {
		header := []byte(h)
		b.Run(h, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				encodingSink = Negotiate(header)
			}
		})
	}
}

// BenchmarkApply reports throughput over the uncompressed body. Each round
// restores the body, as a fresh backend response would bring it.
func BenchmarkApply(b *testing.B) {
	for _, level := range []int{1, DefaultLevel} {
		c := New(Options{Level: level})
		for _, size := range []int{16 << 10, 256 << 10} {
			body := jsonBody(size)
			for _, enc := range []string{"gzip", "zstd"} {
				name := enc + "/level=" + strconv.Itoa(level) + "/size=" + strconv.Itoa(size>>10) + "KiB"
				b.Run(name, func(b *testing.B) {
					req, resp := exchange(b, enc, "application/json", body)
					b.ReportAllocs()
					b.SetBytes(int64(len(body)))
					var out int
					for b.Loop() {
						resp.SetBody(body)
						resp.Header.Del(fasthttp.HeaderContentEncoding)
						stringSink = c.Apply(&req.Header, resp)
						out = len(resp.Body())
					}
					b.ReportMetric(float64(out)/float64(len(body)), "ratio")
				})
			}
		}
	}
}

// BenchmarkApplyParallel is the contended case: every core compressing at
// once through the shared pools.
func BenchmarkApplyParallel(b *testing.B) {
	c := New(Options{})
	body := jsonBody(16 << 10)
	for _, enc := range []string{"gzip", "zstd"} {
		b.Run(enc, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			b.RunParallel(func(pb *testing.PB) {
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				req.Header.Set(fasthttp.HeaderAcceptEncoding, enc)
				resp.Header.SetContentType("application/json")
				for pb.Next() {
					resp.SetBody(body)
					resp.Header.Del(fasthttp.HeaderContentEncoding)
					stringSink = c.Apply(&req.Header, resp)
				}
			})
		})
	}
}
