package edge

import (
	"errors"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/gateway/edge/aggregate"
	"github.com/edgegate/gateway/jwtcache"
)

// errAllCallsFailed is what an aggregate whose every call failed returns
// to the cache, so that nothing is stored; the client gets 502.
var errAllCallsFailed = errors.New("edge: every call of the aggregate failed")

// A partial aggregate is marked Cache-Control: no-cache.
var (
	strCacheControl = []byte(fasthttp.HeaderCacheControl)
	strNoCache      = []byte("no-cache")
)

// forwardedToCalls are the request headers an aggregate's calls carry
// over from the client request, as set by the pipeline before: the
// forwarding headers and the W3C trace context.
var forwardedToCalls = [][]byte{
	strXForwardedFor, strXForwardedProto, strXForwardedHost, []byte("Traceparent"), []byte("Tracestate"),
}

// serveAggregate answers a BFF route: its calls run in parallel and their
// bodies merge into one JSON object, through the route's cache when it has
// one.
func (g *Gateway) serveAggregate(ctx *fasthttp.RequestCtx, c *compiled, x *exchange, r *compiledRoute) {
	req := &aggregate.Request{
		Input:    aggregate.Input{Params: &x.res.Params, Query: ctx.QueryArgs()},
		RemoteIP: ctx.RemoteIP(),
		Prepare: func(call *fasthttp.Request) {
			ch := &ctx.Request.Header
			for _, name := range forwardedToCalls {
				if v := ch.PeekBytes(name); len(v) > 0 {
					call.Header.SetBytesKV(name, v)
				}
			}
			call.Header.SetBytesKV(strXTraceID, x.traceID)
			if x.identity != nil {
				for _, h := range x.identity.Headers {
					call.Header.SetBytesKV(h.Name, h.Value)
				}
			}
			r.reqRules.applyRequest(&call.Header)
		},
	}
	if x.identity != nil {
		req.Claims = identityClaims{id: x.identity, headers: c.claimHeaders}
	}
	run := func(resp *fasthttp.Response) error {
		switch failed := r.aggregate.Run(req, resp); {
		case failed == r.aggregate.Len():
			return errAllCallsFailed
		case failed > 0:
			// A partial result is a degraded answer of this moment: the
			// route's cache must not keep it for its ttl, nor may a cache
			// downstream. no-cache, unlike no-store, still lets requests
			// collapsed onto this fetch share it rather than each run the
			// aggregate again against a struggling backend.
			resp.Header.SetBytesKV(strCacheControl, strNoCache)
		}
		return nil
	}
	var err error
	if r.cache != nil {
		err = r.cache.serve(ctx, x, nil, run)
	} else {
		err = run(&ctx.Response)
	}
	if err != nil {
		errBadGateway.write(ctx, x.traceID)
		return
	}
	r.respRules.applyResponse(&ctx.Response.Header)
	if r.compress != nil {
		r.compress.Apply(&ctx.Request.Header, &ctx.Response)
	}
	ctx.Response.Header.SetBytesKV(strXTraceID, x.traceID)
}

// identityClaims gives aggregate templates the verified claims: sub, and
// each claim claims_to_headers maps, read back from its header value.
type identityClaims struct {
	id      *jwtcache.Identity
	headers map[string][]byte // claim -> header name
}

func (c identityClaims) Claim(name string) ([]byte, bool) {
	if name == "sub" {
		return c.id.Subject, len(c.id.Subject) > 0
	}
	header, ok := c.headers[name]
	if !ok {
		return nil, false
	}
	for _, h := range c.id.Headers {
		if string(h.Name) == string(header) {
			return h.Value, true
		}
	}
	return nil, false
}
