//go:build !race

package compress

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// The race detector allocates on its own, so these run without it.

func TestNegotiateDoesNotAllocate(t *testing.T) {
	header := []byte("br, gzip;q=0.5, zstd;q=0.4, *;q=0")
	var got Encoding
	if avg := testing.AllocsPerRun(1000, func() { got = Negotiate(header) }); avg != 0 {
		t.Errorf("%v allocations per Negotiate, want 0", avg)
	}
	if got != Gzip {
		t.Errorf("Negotiate = %v", got)
	}
}

func TestApplyDoesNotAllocate(t *testing.T) {
	c := New(Options{})
	for _, size := range []int{4 << 10, 64 << 10} {
		body := jsonBody(size)
		for _, enc := range []string{"gzip", "zstd"} {
			req, resp := exchange(t, enc, "application/json", body)
			var got string
			apply := func() {
				resp.SetBody(body)
				resp.Header.Del(fasthttp.HeaderContentEncoding)
				resp.Header.Set(fasthttp.HeaderVary, "Origin")
				resp.Header.Set(fasthttp.HeaderETag, `"v1"`)
				got = c.Apply(&req.Header, resp)
			}
			// Warm up the pools and the response's buffers.
			for range 10 {
				apply()
			}
			if avg := testing.AllocsPerRun(200, apply); avg != 0 {
				t.Errorf("%s on %d bytes: %v allocations per Apply, want 0", enc, size, avg)
			}
			if got != enc {
				t.Errorf("%s on %d bytes: Apply = %q", enc, size, got)
			}
		}
	}
}
