package edge

import (
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/edgegate/gateway/edge/route"
	"github.com/edgegate/gateway/jwtcache"
	"github.com/edgegate/gateway/limiter"
)

// exchange is the per-request state of the request path: buffers the
// request's bytes are copied or built into, the route match, and the
// access-log fields. Exchanges are pooled; after releaseExchange nothing
// of one may be used, and every slice in it is reused by a later request.
type exchange struct {
	start   time.Time
	traceID []byte
	// path is the normalised path the route matched; route params are
	// sub-slices of it, so it must outlive the match.
	path     []byte
	target   []byte // rewritten path, before escaping
	escaped  []byte // what the backend receives as the path
	scratch  []byte // X-Forwarded-For and other built header values
	doomed   doomed
	req      route.Request
	res      route.Result
	route    *compiledRoute
	upstream string
	fields   [11]zap.Field

	// identity is the verified credential, nil on public routes.
	identity *jwtcache.Identity
	// limit is the deciding rate-limit decision when limited is set.
	limit    limiter.Decision
	limited  bool
	limitKey []byte
	cacheKey []byte
}

var exchangePool = sync.Pool{New: func() any {
	return &exchange{traceID: make([]byte, 0, 64), path: make([]byte, 0, 128)}
}}

func acquireExchange() *exchange { return exchangePool.Get().(*exchange) }

func releaseExchange(x *exchange) {
	x.reset()
	exchangePool.Put(x)
}

// reset zeroes every field that refers to a request, keeping buffers.
func (x *exchange) reset() {
	x.traceID = x.traceID[:0]
	x.path = x.path[:0]
	x.target = x.target[:0]
	x.escaped = x.escaped[:0]
	x.scratch = x.scratch[:0]
	x.doomed.reset()
	x.req = route.Request{}
	x.res.Params.Reset()
	x.route = nil
	x.upstream = ""
	x.identity = nil
	x.limit, x.limited = limiter.Decision{}, false
	x.limitKey = x.limitKey[:0]
	x.cacheKey = x.cacheKey[:0]
}

// consumer names the client for the access log: the API key's consumer,
// else the token's subject.
func (x *exchange) consumer() string {
	switch {
	case x.identity == nil:
		return ""
	case len(x.identity.Consumer) > 0:
		return b2s(x.identity.Consumer)
	}
	return b2s(x.identity.Subject)
}
