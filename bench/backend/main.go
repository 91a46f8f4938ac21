// Command backend is the upstream every benchmark target proxies to: a
// fasthttp server that answers any method on any path with 200 and the same
// fixed text/plain body, so the only thing that differs between targets is
// the proxy in front of it.
//
// Paths under /slow/ are the exception: /slow/20ms waits 20 ms (any Go
// duration up to maxDelay) and then answers a small JSON object, which is
// what an aggregate route needs from each of its calls. The wait is a sleep
// in the connection's goroutine, so slow calls cost the backend no CPU and
// do not delay requests on other connections.
//
//	backend -listen 127.0.0.1:19100 -size 1024
package main

import (
	"bytes"
	"flag"
	"log"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:19100", "address to listen on")
	size := flag.Int("size", 1024, "bytes of response body")
	flag.Parse()
	if *size < 0 {
		log.Fatalf("backend: -size must be >= 0, got %d", *size)
	}

	body := make([]byte, *size)
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := range body {
		body[i] = alphabet[i%len(alphabet)]
	}
	if *size > 0 {
		body[len(body)-1] = '\n'
	}

	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if d, ok := bytes.CutPrefix(ctx.Path(), slowPrefix); ok {
				slow(ctx, d)
				return
			}
			ctx.SetStatusCode(fasthttp.StatusOK)
			ctx.Response.Header.SetContentTypeBytes(textPlain)
			// The body is never modified, so it is handed over without a copy.
			ctx.Response.SetBodyRaw(body)
		},
		Name:                          "bench-backend",
		DisableHeaderNamesNormalizing: true,
		ReduceMemoryUsage:             false,
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		_ = srv.Shutdown()
	}()

	log.Printf("backend: listening on %s, %d-byte bodies", *listen, *size)
	if err := srv.ListenAndServe(*listen); err != nil {
		log.Fatalf("backend: %v", err)
	}
}

var (
	textPlain       = []byte("text/plain")
	applicationJSON = []byte("application/json")
	slowPrefix      = []byte("/slow/")
)

// maxDelay bounds /slow/ waits, so that a mistyped path cannot hold a
// benchmark connection past wrk's timeout.
const maxDelay = 5 * time.Second

// slow answers /slow/DURATION: it waits DURATION, then sends
// {"delay_ms":N}. A path that is not a duration up to maxDelay is a 400.
func slow(ctx *fasthttp.RequestCtx, duration []byte) {
	d, err := time.ParseDuration(string(duration))
	if err != nil || d < 0 || d > maxDelay {
		ctx.Error("backend: /slow/ wants a duration between 0 and 5s, such as /slow/20ms", fasthttp.StatusBadRequest)
		return
	}
	time.Sleep(d)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.Header.SetContentTypeBytes(applicationJSON)
	var buf [48]byte
	b := append(buf[:0], `{"delay_ms":`...)
	b = strconv.AppendFloat(b, float64(d)/float64(time.Millisecond), 'f', -1, 64)
	ctx.SetBody(append(b, "}\n"...)) // SetBody copies: buf may live on the stack
}
