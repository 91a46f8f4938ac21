package compress

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestApplyRoundTrip(t *testing.T) {
	c := New(Options{})
	for _, size := range []int{DefaultMinBytes, 16 << 10, 256 << 10, 3 << 20} {
		body := jsonBody(size)
		for _, want := range []string{"gzip", "zstd"} {
			req, resp := exchange(t, want, "application/json", body)
			if got := c.Apply(&req.Header, resp); got != want {
				t.Fatalf("%d bytes: Apply = %q, want %q", size, got, want)
			}
			if got := string(resp.Header.ContentEncoding()); got != want {
				t.Errorf("%d bytes: Content-Encoding %q, want %q", size, got, want)
			}
			if cl := resp.Header.ContentLength(); cl != len(resp.Body()) {
				t.Errorf("%d bytes %s: Content-Length %d, body %d", size, want, cl, len(resp.Body()))
			}
			if len(resp.Body()) >= len(body) {
				t.Errorf("%d bytes %s: encoded to %d bytes", size, want, len(resp.Body()))
			}
			if got := decode(t, want, resp.Body()); !bytes.Equal(got, body) {
				t.Errorf("%d bytes %s: round trip differs (%d bytes back)", size, want, len(got))
			}
			if got := string(resp.Header.Peek(fasthttp.HeaderVary)); got != "Accept-Encoding" {
				t.Errorf("%d bytes %s: Vary %q", size, want, got)
			}
		}
	}
}

// TestApplyOverTheWire serves through a real fasthttp server and reads with
// net/http clients that decode themselves, checking what reaches a client:
// the framing (Content-Length on the wire) as well as the bytes.
func TestApplyOverTheWire(t *testing.T) {
	body := jsonBody(64 << 10)
	c := New(Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.Response.Header.Set(fasthttp.HeaderVary, "Origin")
		ctx.SetBody(body)
		c.Apply(&ctx.Request.Header, &ctx.Response)
	}}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown below
	t.Cleanup(func() { _ = srv.Shutdown() })

	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{DisableCompression: true},
	}
	for _, c := range []struct{ accept, want string }{
		{"gzip, deflate, br", "gzip"},
		{"gzip, deflate, br, zstd", "zstd"},
		{"br", ""},
		{"", ""},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/", nil)
		if c.accept != "" {
			req.Header.Set("Accept-Encoding", c.accept)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Header.Get("Content-Encoding"); got != c.want {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", c.accept, got, c.want)
		}
		if res.ContentLength != int64(len(raw)) {
			t.Errorf("Accept-Encoding %q: Content-Length %d, read %d", c.accept, res.ContentLength, len(raw))
		}
		if got := res.Header.Values("Vary"); len(got) != 1 || got[0] != "Origin, Accept-Encoding" {
			t.Errorf("Accept-Encoding %q: Vary %q, want [\"Origin, Accept-Encoding\"]", c.accept, got)
		}
		got := raw
		if c.want != "" {
			got = decode(t, c.want, raw)
		}
		if !bytes.Equal(got, body) {
			t.Errorf("Accept-Encoding %q: body differs", c.accept)
		}
	}
}

func TestApplyLeavesAlone(t *testing.T) {
	big := jsonBody(8 << 10)
	c := New(Options{})
	for _, tc := range []struct {
		name  string
		setup func(req *fasthttp.Request, resp *fasthttp.Response)
		// vary is whether the response was eligible, so Vary was added
		// although the body stayed as it was.
		vary bool
	}{
		{"small body", func(_ *fasthttp.Request, resp *fasthttp.Response) { resp.SetBody(big[:DefaultMinBytes-1]) }, false},
		{"png", func(_ *fasthttp.Request, resp *fasthttp.Response) { resp.Header.SetContentType("image/png") }, false},
		{"octet-stream", func(_ *fasthttp.Request, resp *fasthttp.Response) {
			resp.Header.SetContentType("application/octet-stream")
		}, false},
		{"already encoded", func(_ *fasthttp.Request, resp *fasthttp.Response) { resp.Header.SetContentEncoding("br") }, false},
		{"HEAD", func(req *fasthttp.Request, _ *fasthttp.Response) { req.Header.SetMethod(fasthttp.MethodHead) }, false},
		{"204", func(_ *fasthttp.Request, resp *fasthttp.Response) { resp.SetStatusCode(fasthttp.StatusNoContent) }, false},
		{"304", func(_ *fasthttp.Request, resp *fasthttp.Response) { resp.SetStatusCode(fasthttp.StatusNotModified) }, false},
		{"206", func(_ *fasthttp.Request, resp *fasthttp.Response) {
			resp.SetStatusCode(fasthttp.StatusPartialContent)
			resp.Header.Set(fasthttp.HeaderContentRange, "bytes 0-8191/20000")
		}, false},
		{"no-transform", func(_ *fasthttp.Request, resp *fasthttp.Response) {
			resp.Header.Set(fasthttp.HeaderCacheControl, "public, No-Transform, max-age=60")
		}, false},
		{"streamed", func(_ *fasthttp.Request, resp *fasthttp.Response) {
			resp.SetBodyStream(bytes.NewReader(big), len(big))
		}, false},
		{"identity accepted only", func(req *fasthttp.Request, _ *fasthttp.Response) {
			req.Header.Set(fasthttp.HeaderAcceptEncoding, "br, identity")
		}, true},
		{"no Accept-Encoding", func(req *fasthttp.Request, _ *fasthttp.Response) {
			req.Header.Del(fasthttp.HeaderAcceptEncoding)
		}, true},
		{"incompressible", func(_ *fasthttp.Request, resp *fasthttp.Response) {
			resp.SetBody(randomBytes(8 << 10))
		}, true},
	} {
		req, resp := exchange(t, "gzip, zstd", "application/json", big)
		tc.setup(req, resp)
		var before []byte
		if !resp.IsBodyStream() {
			before = append(before, resp.Body()...)
		}
		if got := c.Apply(&req.Header, resp); got != "" {
			t.Errorf("%s: Apply = %q, want nothing", tc.name, got)
		}
		if tc.name != "streamed" && !bytes.Equal(resp.Body(), before) {
			t.Errorf("%s: body changed", tc.name)
		}
		if tc.name != "already encoded" && len(resp.Header.ContentEncoding()) != 0 {
			t.Errorf("%s: Content-Encoding %q set", tc.name, resp.Header.ContentEncoding())
		}
		if got, want := len(resp.Header.Peek(fasthttp.HeaderVary)) > 0, tc.vary; got != want {
			t.Errorf("%s: Vary present %v, want %v", tc.name, got, want)
		}
	}
}

func TestApplyVary(t *testing.T) {
	c := New(Options{})
	body := jsonBody(4 << 10)
	for _, tc := range []struct{ before, after string }{
		{"", "Accept-Encoding"},
		{"Origin", "Origin, Accept-Encoding"},
		{"Origin, Cookie", "Origin, Cookie, Accept-Encoding"},
		{"accept-encoding", "accept-encoding"},
		{"Origin,Accept-Encoding", "Origin,Accept-Encoding"},
		{"*", "*"},
	} {
		req, resp := exchange(t, "gzip", "text/html; charset=utf-8", body)
		if tc.before != "" {
			resp.Header.Set(fasthttp.HeaderVary, tc.before)
		}
		if got := c.Apply(&req.Header, resp); got != "gzip" {
			t.Fatalf("Vary %q: Apply = %q", tc.before, got)
		}
		if got := string(resp.Header.Peek(fasthttp.HeaderVary)); got != tc.after {
			t.Errorf("Vary %q became %q, want %q", tc.before, got, tc.after)
		}
	}
}

func TestApplyValidators(t *testing.T) {
	c := New(Options{})
	for _, tc := range []struct{ before, after string }{
		{`"v1"`, `W/"v1"`},
		{`W/"v1"`, `W/"v1"`},
	} {
		req, resp := exchange(t, "zstd", "application/json", jsonBody(4<<10))
		resp.Header.Set(fasthttp.HeaderETag, tc.before)
		resp.Header.Set(fasthttp.HeaderAcceptRanges, "bytes")
		if got := c.Apply(&req.Header, resp); got != "zstd" {
			t.Fatalf("Apply = %q", got)
		}
		if got := string(resp.Header.Peek(fasthttp.HeaderETag)); got != tc.after {
			t.Errorf("ETag %s became %s, want %s", tc.before, got, tc.after)
		}
		if got := resp.Header.Peek(fasthttp.HeaderAcceptRanges); got != nil {
			t.Errorf("Accept-Ranges %q kept on an encoded body", got)
		}
	}
}

func TestOptions(t *testing.T) {
	body := jsonBody(600)
	c := New(Options{MinBytes: 512, Level: 42, Types: []string{"Application/Vnd.Custom", "+yaml", "text/*"}})
	for _, tc := range []struct {
		contentType string
		want        string
	}{
		{"application/vnd.custom", "gzip"},
		{"APPLICATION/VND.CUSTOM; charset=utf-8", "gzip"},
		{"application/config+yaml", "gzip"},
		{"text/csv", "gzip"},
		{"application/json", ""},
		{"text/", ""},
		{"+yaml", ""},
	} {
		req, resp := exchange(t, "gzip", tc.contentType, body)
		if got := c.Apply(&req.Header, resp); got != tc.want {
			t.Errorf("%q: Apply = %q, want %q", tc.contentType, got, tc.want)
			continue
		}
		if tc.want != "" && !bytes.Equal(decode(t, tc.want, resp.Body()), body) {
			t.Errorf("%q: round trip differs", tc.contentType)
		}
	}
	for _, level := range []int{-3, 1, 2, 3, 6, 9} {
		c := New(Options{Level: level})
		for _, enc := range []string{"gzip", "zstd"} {
			req, resp := exchange(t, enc, "application/json", jsonBody(32<<10))
			if got := c.Apply(&req.Header, resp); got != enc {
				t.Fatalf("level %d: Apply = %q, want %s", level, got, enc)
			}
			if !bytes.Equal(decode(t, enc, resp.Body()), jsonBody(32<<10)) {
				t.Errorf("level %d %s: round trip differs", level, enc)
			}
		}
	}
}

func TestApplyConcurrent(t *testing.T) {
	c := New(Options{})
	bodies := [][]byte{jsonBody(2 << 10), jsonBody(40 << 10), jsonBody(200 << 10)}
	done := make(chan error)
	for g := range 8 {
		go func() {
			for i := range 30 {
				body := bodies[(g+i)%len(bodies)]
				enc := [...]string{"gzip", "zstd"}[(g+i)%2]
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				req.Header.Set(fasthttp.HeaderAcceptEncoding, enc)
				resp.Header.SetContentType("application/json")
				resp.SetBody(body)
				got := c.Apply(&req.Header, resp)
				out := append([]byte(nil), resp.Body()...)
				fasthttp.ReleaseRequest(req)
				fasthttp.ReleaseResponse(resp)
				if got != enc {
					done <- &mismatch{"encoding " + got + ", want " + enc}
					return
				}
				if !bytes.Equal(decode(t, enc, out), body) {
					done <- &mismatch{enc + " round trip of " + strconv.Itoa(len(body)) + " bytes differs"}
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

type mismatch struct{ s string }

func (m *mismatch) Error() string { return m.s }
