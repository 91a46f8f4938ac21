package edge

import (
	"errors"
	"net/netip"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/edgegate/gateway/edge/route"
	"github.com/edgegate/gateway/pool"
)

// serve is the request path. It reads top to bottom: identify the request,
// match a route, clean and annotate the request, forward it, clean the
// response, record it.
func (g *Gateway) serve(ctx *fasthttp.RequestCtx) {
	c := g.current.Load()
	x := acquireExchange()
	x.start = time.Now()
	defer func() {
		if p := recover(); p != nil {
			g.log.Error("panic serving request", zap.Any("panic", p), zap.ByteString("trace_id", x.traceID))
			errInternal.write(ctx, x.traceID)
		}
		g.finish(ctx, c, x)
		releaseExchange(x)
	}()

	h := &ctx.Request.Header
	if v := h.PeekBytes(strXTraceID); saneTraceID(v) {
		x.traceID = append(x.traceID[:0], v...)
	} else {
		x.traceID = appendNewTraceID(x.traceID[:0])
	}

	if e := g.checkHead(&ctx.Request); e != nil {
		e.write(ctx, x.traceID)
		ctx.SetConnectionClose()
		return
	}
	// Routing and forwarding use one host, chosen once: the absolute-form
	// target's authority if there is one, else the Host header.
	host := ctx.Request.URI().Host()

	if !x.match(ctx, c, host) {
		errBadPath.write(ctx, x.traceID)
		return
	}
	switch x.res.Status {
	case route.NotFound:
		errNoRoute.write(ctx, x.traceID)
		return
	case route.MethodNotAllowed:
		errMethodNotAllowed.write(ctx, x.traceID)
		x.scratch = x.res.Allow.AppendAllow(x.scratch[:0])
		ctx.Response.Header.SetBytesKV(strAllow, x.scratch)
		return
	}
	r := c.routes[x.res.Route]
	x.route = r

	x.sanitizeRequest(h, &c.identity)
	if r.auth != nil {
		id, err, byKey := r.auth.authenticate(h)
		r.auth.count(err)
		if err != nil {
			r.auth.writeRefusal(ctx, x, err, byKey)
			return
		}
		x.identity = id
		for i := range id.Headers {
			h.SetBytesKV(id.Headers[i].Name, id.Headers[i].Value)
		}
	}
	if r.limits != nil {
		x.limit, x.limited = r.limits.check(ctx, x, x.identity), true
		switch {
		case x.limit.Unavailable:
			errLimiterDown.write(ctx, x.traceID)
			return
		case !x.limit.Allowed:
			errRateLimited.write(ctx, x.traceID)
			return
		}
	}
	r.reqRules.applyRequest(h)
	x.setForwarded(ctx, host)
	h.SetBytesKV(strXTraceID, x.traceID)

	if r.aggregate != nil {
		g.serveAggregate(ctx, c, x, r)
		return
	}
	if r.service == nil {
		errBadGateway.write(ctx, x.traceID)
		return
	}

	// The backend gets the path the route matched, in the same normal
	// form; a rewrite is built from that form's params and normalised
	// again, so it cannot smuggle a dot-segment either.
	target := x.path
	if r.hasRewrite {
		x.target = r.rewrite.AppendPath(x.target[:0], &x.res.Params)
		x.escaped, _ = normalizePath(x.escaped[:0], x.target) // validated at compile time
		target = x.escaped
	}
	uri := ctx.Request.URI()
	uri.DisablePathNormalizing = true
	uri.SetPathBytes(target)
	// Routing parsed the query; parsed args would go out re-encoded, so the
	// query is reset to the bytes the client sent.
	uri.SetQueryStringBytes(uri.QueryString())
	// Upstreams speak plain HTTP whatever the client's scheme: fasthttp
	// refuses to send an https URI through a plain HostClient, and an
	// https:// target on a plain listener would otherwise fail as if the
	// backend had, counting against its circuit.
	uri.SetSchemeBytes(strHTTP)
	// A body sent without a Content-Type goes on without one: fasthttp's
	// client would label it application/octet-stream, telling the backend
	// something the client never said.
	h.SetNoDefaultContentType(true)

	svc := r.service
	if r.split != nil {
		svc = r.split.pick(&ctx.Request, ctx.RemoteIP())
	}
	if err := x.forward(ctx, r, svc); err != nil {
		upstreamError(err).write(ctx, x.traceID)
		return
	}
	x.sanitizeResponse(&ctx.Response.Header)
	r.respRules.applyResponse(&ctx.Response.Header)
	if r.compress != nil {
		r.compress.Apply(h, &ctx.Response)
	}
	ctx.Response.Header.SetBytesKV(strXTraceID, x.traceID)
}

// forward sends the request to svc and fills ctx.Response, through the
// route's cache when it has one.
func (x *exchange) forward(ctx *fasthttp.RequestCtx, r *compiledRoute, svc *pool.Service) error {
	deadline := x.start.Add(r.timeout)
	key := svc.HashKey(&ctx.Request, ctx.RemoteIP())
	if r.cache == nil {
		inst, err := svc.Do(&ctx.Request, &ctx.Response, deadline, key)
		x.noteUpstream(inst)
		return err
	}
	var side []byte
	if r.split != nil {
		side = s2b(svc.Name())
	}
	return r.cache.serve(ctx, x, side, func(resp *fasthttp.Response) error {
		inst, err := svc.Do(&ctx.Request, resp, deadline, key)
		x.noteUpstream(inst)
		return err
	})
}

func (x *exchange) noteUpstream(inst *pool.Instance) {
	if inst != nil {
		x.upstream = inst.Addr()
	}
}

// match routes the request on the normal form of its path (path.go) and
// on host. The normal form lives in x.path, which the route's params slice
// and which outlives the rewrite of the URI. It reports false for a path
// with a malformed escape, which matches nothing.
func (x *exchange) match(ctx *fasthttp.RequestCtx, c *compiled, host []byte) bool {
	h := &ctx.Request.Header
	var ok bool
	if x.path, ok = normalizePath(x.path[:0], ctx.Request.URI().PathOriginal()); !ok {
		return false
	}
	x.req = route.Request{Method: h.Method(), Path: x.path, Host: host, Header: h, Args: ctx.QueryArgs()}
	c.table.Match(&x.req, &x.res)
	return true
}

// upstreamError maps a pool failure to the client-facing error. Upstream
// error text never reaches the client.
func upstreamError(err error) *gatewayError {
	switch {
	case errors.Is(err, pool.ErrTimeout):
		return errUpstreamTimeout
	case errors.Is(err, pool.ErrUnavailable):
		return errUnavailable
	case errors.Is(err, pool.ErrCircuitOpen):
		return errCircuitOpen
	default:
		return errBadGateway
	}
}

// setForwarded sets X-Forwarded-For (client address appended to any
// existing list), X-Forwarded-Proto and X-Forwarded-Host.
func (x *exchange) setForwarded(ctx *fasthttp.RequestCtx, host []byte) {
	h := &ctx.Request.Header
	x.scratch = append(x.scratch[:0], h.PeekBytes(strXForwardedFor)...)
	if len(x.scratch) > 0 {
		x.scratch = append(x.scratch, strCommaSpace...)
	}
	if ip, ok := netip.AddrFromSlice(ctx.RemoteIP()); ok {
		x.scratch = ip.Unmap().AppendTo(x.scratch)
	}
	h.SetBytesKV(strXForwardedFor, x.scratch)
	if ctx.IsTLS() {
		h.SetBytesKV(strXForwardedProto, strHTTPS)
	} else {
		h.SetBytesKV(strXForwardedProto, strHTTP)
	}
	h.SetBytesKV(strXForwardedHost, host)
}

// finish records a request in the metrics and the access log. With the
// access log off it costs two atomic adds.
func (g *Gateway) finish(ctx *fasthttp.RequestCtx, c *compiled, x *exchange) {
	if x.limited {
		x.scratch = writeLimitHeaders(&ctx.Response.Header, &x.limit, x.scratch)
	}
	status := ctx.Response.StatusCode()
	elapsed := time.Since(x.start)
	m := c.noRoute
	routeName := ""
	if x.route != nil {
		m = x.route.metrics
		routeName = x.route.name
	}
	m.Observe(status, elapsed)

	if g.accessLog == nil {
		return
	}
	ce := g.accessLog.Check(zap.InfoLevel, "request")
	if ce == nil {
		return
	}
	f := &x.fields
	f[0] = zap.String("route", routeName)
	f[1] = zap.String("method", b2s(ctx.Method()))
	f[2] = zap.String("path", b2s(x.path))
	f[3] = zap.Int("status", status)
	f[4] = zap.Duration("latency", elapsed)
	f[5] = zap.String("upstream", x.upstream)
	f[6] = zap.Int("bytes_in", len(ctx.Request.Body()))
	f[7] = zap.Int("bytes_out", len(ctx.Response.Body()))
	f[8] = zap.String("trace_id", b2s(x.traceID))
	f[9] = zap.String("consumer", x.consumer())
	f[10] = zap.String("remote", b2s(x.remoteIP(ctx)))
	ce.Write(f[:]...)
	// The fields alias this request's buffers; drop them so a pooled
	// exchange holds no reference into a finished request.
	*f = [len(f)]zap.Field{}
}

// remoteIP renders the client address into the exchange's scratch buffer.
func (x *exchange) remoteIP(ctx *fasthttp.RequestCtx) []byte {
	x.scratch = x.scratch[:0]
	if ip, ok := netip.AddrFromSlice(ctx.RemoteIP()); ok {
		x.scratch = ip.Unmap().AppendTo(x.scratch)
	}
	return x.scratch
}
