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
// marked "X-Cache: STALE", to a GET or a HEAD. On a route varied by
// user, requests without a subject bypass the cache.
//
// side names the service of a canary split that serves the request (nil
// without a split): the two sides may answer differently, and a client
// kept on one side must not get the other's cached answer.
func (rc *routeCache) serve(ctx *fasthttp.RequestCtx, x *exchange, side []byte, fill func(*fasthttp.Response) error) error {
	resp := &ctx.Response
	var user []byte
	if x.identity != nil {
		user = x.identity.Subject
	}
	if !rc.rule.Keys(user) {
		return fill(resp)
	}
	x.cacheKey = rc.rule.AppendKey(x.cacheKey[:0], &ctx.Request, user)
	if side != nil {
		// Every key of a split route ends so, and the parts before are
		// length-prefixed: the suffix cannot make two keys collide.
		x.cacheKey = append(append(x.cacheKey, 0xff), side...)
	}
	var err error
	switch {
	case ctx.IsHead():
		if e, fresh := rc.cache.Get(x.cacheKey); e != nil && fresh {
			e.WriteTo(resp)
			return nil
		}
		err = fill(resp)
	case ctx.IsGet():
		_, err = rc.cache.Do(x.cacheKey, rc.rule, resp, fill)
	default:
		return fill(resp)
	}
	if err != nil && (errors.Is(err, pool.ErrCircuitOpen) || errors.Is(err, pool.ErrUnavailable)) {
		if e, _ := rc.cache.Get(x.cacheKey); e != nil {
			resp.Reset()
			e.WriteTo(resp)
			return nil
		}
	}
	return err
}
