package edge

import (
	"github.com/valyala/fasthttp"

	"github.com/edgegate/gateway/edge/metrics"
	"github.com/edgegate/gateway/jwtcache"
)

// authStage is a route's credential check: the verifiers its `auth` list
// names, any one of which suffices. Built once per configuration; routes
// without `auth` have none and skip the stage entirely.
type authStage struct {
	jwt          *jwtcache.JWT
	apiKeys      *jwtcache.APIKeys
	introspect   *jwtcache.Introspector
	apiKeyHeader []byte
	// challenge is the WWW-Authenticate value of a 401: one challenge per
	// scheme the route accepts.
	challenge []byte
	counts    *authCounts
}

// authCounts are the outcomes of credential checks, for /metrics.
type authCounts struct {
	ok, unauthorized, forbidden, unavailable *metrics.Counter
}

func newAuthCounts(r *metrics.Registry, route string) *authCounts {
	f := r.Counters("gateway_auth_total", "Credential checks on routes that require one, by route and result.", "route", "result")
	return &authCounts{
		ok:           f.With(route, "ok"),
		unauthorized: f.With(route, "unauthorized"),
		forbidden:    f.With(route, "forbidden"),
		unavailable:  f.With(route, "unavailable"),
	}
}

// authenticate finds the request's credentials and checks each kind the
// route accepts. The first that verifies wins. When none does, the most
// telling refusal is returned: 403 (a valid credential, not allowed) over
// 503 (a checker is down, so a 401 would be a guess) over 401.
func (a *authStage) authenticate(h *fasthttp.RequestHeader) (*jwtcache.Identity, *jwtcache.Error) {
	refusal := jwtcache.ErrNoCredential
	try := func(id *jwtcache.Identity, err *jwtcache.Error) (*jwtcache.Identity, bool) {
		if err == nil {
			return id, true
		}
		if rank(err) > rank(refusal) {
			refusal = err
		}
		return nil, false
	}

	if token := jwtcache.BearerToken(h); len(token) > 0 {
		if a.jwt != nil && (a.introspect == nil || jwtcache.LooksLikeJWT(token)) {
			if id, ok := try(a.jwt.Verify(token)); ok {
				return id, nil
			}
		} else if a.introspect != nil {
			if id, ok := try(a.introspect.Verify(token)); ok {
				return id, nil
			}
		}
	}
	if a.apiKeys != nil {
		if raw := jwtcache.APIKey(h, a.apiKeyHeader); len(raw) > 0 {
			if id, ok := try(a.apiKeys.Verify(raw)); ok {
				return id, nil
			}
		}
	}
	return nil, refusal
}

// rank orders refusals by how much they tell the client.
func rank(e *jwtcache.Error) int {
	switch e.Status {
	case fasthttp.StatusForbidden:
		return 3
	case fasthttp.StatusServiceUnavailable:
		return 2
	}
	if e == jwtcache.ErrNoCredential {
		return 0
	}
	return 1
}

// count records the outcome of one check.
func (a *authStage) count(err *jwtcache.Error) {
	switch {
	case err == nil:
		a.counts.ok.Inc()
	case err.Status == fasthttp.StatusForbidden:
		a.counts.forbidden.Inc()
	case err.Status == fasthttp.StatusServiceUnavailable:
		a.counts.unavailable.Inc()
	default:
		a.counts.unauthorized.Inc()
	}
}

var (
	errForbidden       = newGatewayError(fasthttp.StatusForbidden, "forbidden", "credential not allowed here")
	errAuthUnavailable = newGatewayError(fasthttp.StatusServiceUnavailable, "unavailable", "credential check unavailable")
	strErrorDesc       = []byte(`, error="invalid_token", error_description="`)
	strQuote           = []byte(`"`)
)

// writeRefusal answers a failed check: 401 with the route's challenge (and
// the reason, as RFC 6750 describes, when a credential was presented), 403,
// or 503 when the checker itself could not be reached.
func (a *authStage) writeRefusal(ctx *fasthttp.RequestCtx, x *exchange, err *jwtcache.Error) {
	switch err.Status {
	case fasthttp.StatusForbidden:
		errForbidden.write(ctx, x.traceID)
		return
	case fasthttp.StatusServiceUnavailable:
		errAuthUnavailable.write(ctx, x.traceID)
		return
	}
	errUnauthorized.write(ctx, x.traceID)
	x.scratch = append(x.scratch[:0], a.challenge...)
	if err != jwtcache.ErrNoCredential && err.Reason != "" {
		x.scratch = append(x.scratch, strErrorDesc...)
		x.scratch = append(x.scratch, err.Reason...)
		x.scratch = append(x.scratch, strQuote...)
	}
	ctx.Response.Header.SetBytesKV(strWWWAuthenticate, x.scratch)
}

// challengeFor builds the WWW-Authenticate value for the accepted kinds.
// The Bearer challenge comes last, so that the RFC 6750 error parameters
// writeRefusal appends belong to it.
func challengeFor(kinds []string) []byte {
	var apiKey, bearer bool
	for _, k := range kinds {
		switch k {
		case "jwt", "introspection":
			bearer = true
		case "api_key":
			apiKey = true
		}
	}
	var b []byte
	if apiKey {
		b = append(b, `ApiKey realm="gateway"`...)
	}
	if bearer {
		if len(b) > 0 {
			b = append(b, ", "...)
		}
		b = append(b, `Bearer realm="gateway"`...)
	}
	return b
}
