package edge

import (
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/gateway/edge/route"
)

// serveParseError answers a request fasthttp could not read. fasthttp's
// default answers 400 for everything, an oversized body included; the
// contract wants the status that tells the client what to fix, with the
// JSON error body. The connection is closed: after a framing error the
// rest of the stream cannot be trusted.
func (g *Gateway) serveParseError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var netErr net.Error
	e := errBadRequest
	switch {
	case errors.As(err, &small):
		e = errHeaderTooLarge
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		e = errBodyTooLarge
	case errors.As(err, &netErr) && netErr.Timeout(), errors.Is(err, fasthttp.ErrTimeout):
		e = errRequestTimeout
	}
	var id [32]byte
	e.write(ctx, appendNewTraceID(id[:0]))
	ctx.SetConnectionClose()
	g.current.Load().noRoute.Observe(e.status, 0)
}

// expect decides an "Expect: 100-continue" before the client sends its
// body: a body that would be refused is refused before it is uploaded.
// A refusal is answered in full, as the request path would answer it
// (JSON body, Allow, WWW-Authenticate, trace id), and recorded in the
// metrics and access log; fasthttp then closes the connection, since the
// client may already be sending the body.
func (g *Gateway) expect(ctx *fasthttp.RequestCtx) int {
	c := g.current.Load()
	x := acquireExchange()
	x.start = time.Now()
	defer releaseExchange(x)
	x.traceID = appendNewTraceID(x.traceID[:0])
	refuse := func(e *gatewayError) int {
		e.write(ctx, x.traceID)
		g.finish(ctx, c, x)
		return e.status
	}

	if n := ctx.Request.Header.ContentLength(); n > g.startCfg.Server.MaxBodyBytes {
		return refuse(errBodyTooLarge)
	}
	x.match(ctx, c, ctx.Request.URI().Host())
	switch x.res.Status {
	case route.NotFound:
		return refuse(errNoRoute)
	case route.MethodNotAllowed:
		status := refuse(errMethodNotAllowed)
		x.scratch = x.res.Allow.AppendAllow(x.scratch[:0])
		ctx.Response.Header.SetBytesKV(strAllow, x.scratch)
		return status
	}
	r := c.routes[x.res.Route]
	x.route = r
	// The credential is checked now, so that an unauthenticated client
	// never uploads its body; the request path checks it again (a cache
	// hit). Rate limits are not charged here: the request would be
	// counted twice.
	if r.auth != nil {
		if _, err := r.auth.authenticate(&ctx.Request.Header); err != nil {
			r.auth.writeRefusal(ctx, x, err)
			g.finish(ctx, c, x)
			return err.Status
		}
	}
	return fasthttp.StatusContinue
}

// redirectToHTTPS answers every plain-HTTP request with 308 to the same
// URI on the TLS listener. 308 keeps the method and body.
func (g *Gateway) redirectToHTTPS(ctx *fasthttp.RequestCtx) {
	host := ctx.Request.URI().Host()
	if h, _, err := net.SplitHostPort(string(host)); err == nil {
		host = []byte(h)
	}
	b := append([]byte("https://"), host...)
	if _, port, err := net.SplitHostPort(g.startCfg.Server.TLS.Listen); err == nil && port != "443" {
		if n, err := strconv.Atoi(port); err == nil && n == 0 && g.secureLn != nil {
			_, port, _ = net.SplitHostPort(g.secureLn.Addr().String())
		}
		b = append(b, ':')
		b = append(b, port...)
	}
	b = append(b, ctx.Request.Header.RequestURI()...)
	ctx.Response.Header.Set(fasthttp.HeaderLocation, string(b))
	ctx.SetStatusCode(fasthttp.StatusPermanentRedirect)
}
