package edge

import (
	"errors"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/gateway/edge/respcache"
	"github.com/edgegate/gateway/pool"
)

// routeCache is a route's response cache: its rule (ttl, vary) and the
// cache shared by every route of the configuration.
type routeCache struct {
	rule  *respcache.Rule
	cache *respcache.Cache
}

// serve answers a GET from the cache, or through fill, which forwards to
// the backend; concurrent misses for one key share one fill. A HEAD is
// answered from a fresh entry when there is one and never stored. When
// the backend cannot be reached because its circuit is open or no
// instance is healthy, an entry past its ttl is served instead of a 503,
// marked "X-Cache: STALE".
func (rc *routeCache) serve(ctx *fasthttp.RequestCtx, x *exchange, fill func(*fasthttp.Response) error) error {
	var user []byte
	if x.identity != nil {
		user = x.identity.Subject
	}
	x.cacheKey = rc.rule.AppendKey(x.cacheKey[:0], &ctx.Request, user)
	resp := &ctx.Response
	switch {
	case ctx.IsHead():
		if e, fresh := rc.cache.Get(x.cacheKey); e != nil && fresh {
			e.WriteTo(resp)
			return nil
		}
		return fill(resp)
	case !ctx.IsGet():
		return fill(resp)
	}
	_, err := rc.cache.Do(x.cacheKey, rc.rule, resp, fill)
	if err != nil && (errors.Is(err, pool.ErrCircuitOpen) || errors.Is(err, pool.ErrUnavailable)) {
		if e, _ := rc.cache.Get(x.cacheKey); e != nil {
			resp.Reset()
			e.WriteTo(resp)
			return nil
		}
	}
	return err
}
