package edge

import (
	"bytes"
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

	if e := g.checkHead(&ctx.Request); e != nil {
		return refuse(e)
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
		if _, err, byKey := r.auth.authenticate(&ctx.Request.Header); err != nil {
			r.auth.writeRefusal(ctx, x, err, byKey)
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

var (
	strContentLength    = []byte(fasthttp.HeaderContentLength)
	strTransferEncoding = []byte(fasthttp.HeaderTransferEncoding)
	strChunked          = []byte("chunked")
)

// checkHeaderBlock checks the header fields of a request as they came off
// the wire (fasthttp's RawHeaders: every field line and the blank line
// ending the block, the request line excluded). It returns nil for a
// block the gateway forwards, errHeaderTooLarge for more than maxCount
// fields, and errBadRequest for
//   - a line ended by a bare LF: fasthttp takes it as a line end, a peer
//     in front of the gateway may not, and the two then disagree on which
//     bytes are headers;
//   - an obs-fold continuation line, which fasthttp joins into the field
//     before it; RFC 9112 §5.2 allows refusing it, and the join hides
//     where the field really ended;
//   - a field name that is not an RFC 9110 token (fasthttp keeps names
//     with inner spaces, which backends read in different ways);
//   - a Transfer-Encoding other than exactly "chunked" (fasthttp takes
//     "identity" as absent), or one together with Content-Length: RFC 9112
//     §6.1 calls either ambiguous framing, and the contract answers 400.
//
// It allocates nothing: the block is walked in place.
func checkHeaderBlock(raw []byte, maxCount int) *gatewayError {
	count := 0
	var sawLength, sawEncoding bool
	for len(raw) > 0 {
		end := bytes.IndexByte(raw, '\n')
		if end <= 0 || raw[end-1] != '\r' {
			return errBadRequest
		}
		line := raw[:end-1]
		raw = raw[end+1:]
		if len(line) == 0 {
			break // the blank line ending the block
		}
		if line[0] == ' ' || line[0] == '\t' {
			return errBadRequest
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return errBadRequest
		}
		name := line[:colon]
		for _, c := range name {
			if !tokenByte[c] {
				return errBadRequest
			}
		}
		if count++; count > maxCount {
			return errHeaderTooLarge
		}
		switch {
		case len(name) == len(strContentLength) && bytes.EqualFold(name, strContentLength):
			sawLength = true
		case len(name) == len(strTransferEncoding) && bytes.EqualFold(name, strTransferEncoding):
			if sawEncoding || !bytes.EqualFold(bytes.Trim(line[colon+1:], " \t"), strChunked) {
				return errBadRequest
			}
			sawEncoding = true
		}
	}
	if sawLength && sawEncoding {
		return errBadRequest
	}
	return nil
}

// tokenByte marks the bytes of an RFC 9110 token (tchar).
var tokenByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// checkHead refuses a request whose head an edge must not pass on, before
// it is routed: both the request path and the Expect handler run it, so
// that no such client is invited to send its body.
//
//   - A version other than HTTP/1.0 and 1.1.
//   - A header block fasthttp accepted leniently where RFC 9112 lets a
//     server choose (checkHeaderBlock): a lenient edge disagrees with
//     stricter peers about where a message ends.
//   - Userinfo in the Host header or in an absolute-form target: fasthttp
//     would send it upstream as Authorization, after the route's header
//     rules ran. fasthttp splits it off the target before Host() is read,
//     so the raw target is checked too.
//   - An absolute-form target whose scheme is neither http nor https (RFC
//     9112, section 3.2.2): not a request for this gateway.
//
// The caller closes the connection: the client's idea of the stream can
// no longer be trusted.
func (g *Gateway) checkHead(req *fasthttp.Request) *gatewayError {
	h := &req.Header
	if p := h.Protocol(); !bytes.Equal(p, strHTTP11) && !bytes.Equal(p, strHTTP10) {
		return errBadVersion
	}
	if e := checkHeaderBlock(h.RawHeaders(), g.startCfg.Server.MaxHeaderCount); e != nil {
		return e
	}
	uri := req.URI()
	if bytes.IndexByte(uri.Host(), '@') >= 0 || bytes.IndexByte(h.Host(), '@') >= 0 || targetHasUserinfo(h.RequestURI()) {
		return errBadHost
	}
	if s := uri.Scheme(); !bytes.Equal(s, strHTTP) && !bytes.Equal(s, strHTTPS) {
		return errBadRequest
	}
	return nil
}

// targetHasUserinfo reports whether an absolute-form request target has a
// userinfo part ("http://user:pass@host/"), even an empty one: RFC 9110
// deprecates it, and fasthttp would forward it as Authorization.
func targetHasUserinfo(target []byte) bool {
	if len(target) > 0 && target[0] == '/' {
		return false // origin-form, the usual case: no authority
	}
	i := bytes.Index(target, strColonSlashSlash)
	if i < 0 {
		return false
	}
	authority := target[i+len(strColonSlashSlash):]
	if end := bytes.IndexAny(authority, "/?#"); end >= 0 {
		authority = authority[:end]
	}
	return bytes.IndexByte(authority, '@') >= 0
}
