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
	// scheme the route accepts, Bearer last. keyChallenge has ApiKey last,
	// for refusals of an API key: the reason a refusal appends belongs to
	// the challenge it follows.
	challenge, keyChallenge []byte
	counts                  *authCounts
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
// 503 (a checker is down, so a 401 would be a guess) over 401; byKey
// tells whether it was the API key's.
func (a *authStage) authenticate(h *fasthttp.RequestHeader) (*jwtcache.Identity, *jwtcache.Error, bool) {
	refusal, byKey := jwtcache.ErrNoCredential, false
	if token := jwtcache.BearerToken(h); len(token) > 0 {
		var id *jwtcache.Identity
		err := jwtcache.ErrNoCredential
		switch {
		case a.jwt != nil && (a.introspect == nil || jwtcache.LooksLikeJWT(token)):
			id, err = a.jwt.Verify(token)
		case a.introspect != nil:
			id, err = a.introspect.Verify(token)
		}
		if err == nil {
			return id, nil, false
		}
		refusal = err
	}
	if a.apiKeys != nil {
		if raw := jwtcache.APIKey(h, a.apiKeyHeader); len(raw) > 0 {
			id, err := a.apiKeys.Verify(raw)
			if err == nil {
				return id, nil, false
			}
			if rank(err) > rank(refusal) {
				refusal, byKey = err, true
			}
		}
	}
	return nil, refusal, byKey
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
// the reason, as RFC 6750 describes, after the challenge of the scheme that
// failed, when a credential was presented), 403, or 503 when the checker
// itself could not be reached.
func (a *authStage) writeRefusal(ctx *fasthttp.RequestCtx, x *exchange, err *jwtcache.Error, byKey bool) {
	switch err.Status {
	case fasthttp.StatusForbidden:
		errForbidden.write(ctx, x.traceID)
		return
	case fasthttp.StatusServiceUnavailable:
		errAuthUnavailable.write(ctx, x.traceID)
		return
	}
	errUnauthorized.write(ctx, x.traceID)
	challenge := a.challenge
	if byKey {
		challenge = a.keyChallenge
	}
	x.scratch = append(x.scratch[:0], challenge...)
	if err != jwtcache.ErrNoCredential && err.Reason != "" {
		x.scratch = append(x.scratch, strErrorDesc...)
		x.scratch = append(x.scratch, err.Reason...)
		x.scratch = append(x.scratch, strQuote...)
	}
	ctx.Response.Header.SetBytesKV(strWWWAuthenticate, x.scratch)
}

// challengesFor builds the WWW-Authenticate values for the accepted
// kinds: one with the Bearer challenge last and one with the ApiKey
// challenge last, so that the error parameters writeRefusal appends
// belong to the scheme whose credential was refused.
func challengesFor(kinds []string) (bearerLast, keyLast []byte) {
	const apiKey, bearer = `ApiKey realm="gateway"`, `Bearer realm="gateway"`
	var hasKey, hasBearer bool
	for _, k := range kinds {
		switch k {
		case "jwt", "introspection":
			hasBearer = true
		case "api_key":
			hasKey = true
		}
	}
	switch {
	case hasKey && hasBearer:
		return []byte(apiKey + ", " + bearer), []byte(bearer + ", " + apiKey)
	case hasKey:
		return []byte(apiKey), []byte(apiKey)
	default:
		return []byte(bearer), []byte(bearer)
	}
}
