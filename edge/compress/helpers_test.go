package compress

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/valyala/fasthttp"
)

// jsonBody returns at least n bytes of JSON shaped like an API listing:
// repeated keys, varied values, the mix a gateway compresses all day.
func jsonBody(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}
	var b bytes.Buffer
	b.WriteString(`{"items":[`)
	for i := 0; b.Len() < n-2; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"%s %s","score":%.3f,"active":%t,"tags":["%s","%s"]}`,
			r.IntN(1_000_000), words[r.IntN(len(words))], words[r.IntN(len(words))],
			r.Float64()*100, r.IntN(2) == 0, words[r.IntN(len(words))], words[r.IntN(len(words))])
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// randomBytes returns n bytes that do not compress.
func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// exchange builds a GET request with the given Accept-Encoding and a 200
// response with the given content type and body.
func exchange(t testing.TB, acceptEncoding, contentType string, body []byte) (*fasthttp.Request, *fasthttp.Response) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	t.Cleanup(func() { fasthttp.ReleaseRequest(req); fasthttp.ReleaseResponse(resp) })
	req.Header.SetMethod(fasthttp.MethodGet)
	req.SetRequestURI("/items")
	if acceptEncoding != "" {
		req.Header.Set(fasthttp.HeaderAcceptEncoding, acceptEncoding)
	}
	resp.SetStatusCode(fasthttp.StatusOK)
	resp.Header.SetContentType(contentType)
	resp.SetBody(body)
	return req, resp
}

// decode decodes body with the standard library's gzip reader or the zstd
// decoder, as a client would.
func decode(t testing.TB, encoding string, body []byte) []byte {
	t.Helper()
	var r io.Reader
	switch encoding {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("gzip header: %v", err)
		}
		r = zr
	case "zstd":
		// 8 MiB is the window browsers accept; frames must decode within it.
		zr, err := zstd.NewReader(bytes.NewReader(body), zstd.WithDecoderMaxWindow(8<<20))
		if err != nil {
			t.Fatalf("zstd reader: %v", err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("unknown encoding %q", encoding)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", encoding, err)
	}
	return out
}
