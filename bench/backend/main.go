// Command backend is the upstream every benchmark target proxies to: a
// fasthttp server that answers any method on any path with 200 and the same
// fixed text/plain body, so the only thing that differs between targets is
// the proxy in front of it.
//
//	backend -listen 127.0.0.1:19100 -size 1024
package main

import (
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

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

var textPlain = []byte("text/plain")
