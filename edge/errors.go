package edge

import (
	"strconv"

	"github.com/valyala/fasthttp"
)

// gatewayError is an error the gateway answers itself. Its JSON body is
// built once, at start-up, up to the trace id, so that a stream of errors
// (a 429 flood, a scan of unknown paths) costs no allocation: writing one
// is two appends into the response body.
type gatewayError struct {
	status int
	// prefix is `{"error":{"status":N,"code":"...","message":"..."},"trace_id":"`;
	// the trace id and `"}` follow.
	prefix []byte
}

func newGatewayError(status int, code, message string) *gatewayError {
	b := []byte(`{"error":{"status":`)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"code":`...)
	b = strconv.AppendQuote(b, code)
	b = append(b, `,"message":`...)
	b = strconv.AppendQuote(b, message)
	b = append(b, `},"trace_id":"`...)
	return &gatewayError{status: status, prefix: b}
}

// The errors of CONTRACT.md. Messages never carry request or upstream bytes.
var (
	errBadRequest       = newGatewayError(fasthttp.StatusBadRequest, "bad_request", "malformed request")
	errBadHost          = newGatewayError(fasthttp.StatusBadRequest, "bad_request", "invalid Host header")
	errBadPath          = newGatewayError(fasthttp.StatusBadRequest, "bad_request", "malformed percent-encoding in the path")
	errBadVersion       = newGatewayError(fasthttp.StatusBadRequest, "bad_request", "unsupported HTTP version")
	errNoRoute          = newGatewayError(fasthttp.StatusNotFound, "no_route", "no route matches the request")
	errMethodNotAllowed = newGatewayError(fasthttp.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this route")
	errRequestTimeout   = newGatewayError(fasthttp.StatusRequestTimeout, "bad_request", "request not received in time")
	errBodyTooLarge     = newGatewayError(fasthttp.StatusRequestEntityTooLarge, "too_large", "request body too large")
	errHeaderTooLarge   = newGatewayError(fasthttp.StatusRequestHeaderFieldsTooLarge, "too_large", "request headers too large")
	errBadGateway       = newGatewayError(fasthttp.StatusBadGateway, "bad_gateway", "upstream refused, reset or sent an invalid response")
	errUnavailable      = newGatewayError(fasthttp.StatusServiceUnavailable, "unavailable", "no healthy upstream instance")
	errCircuitOpen      = newGatewayError(fasthttp.StatusServiceUnavailable, "unavailable", "upstream circuit open")
	errRateLimited      = newGatewayError(fasthttp.StatusTooManyRequests, "rate_limited", "rate limit exceeded")
	errLimiterDown      = newGatewayError(fasthttp.StatusServiceUnavailable, "unavailable", "rate limiter unavailable")
	errUpstreamTimeout  = newGatewayError(fasthttp.StatusGatewayTimeout, "upstream_timeout", "upstream did not answer in time")
	errInternal         = newGatewayError(fasthttp.StatusInternalServerError, "internal", "internal gateway error")
)

var (
	strContentTypeJSON = []byte("application/json")
	strJSONTail        = []byte(`"}`)
)

// write replaces whatever response ctx holds with e. traceID may be empty
// (errors raised before a trace id exists, such as unparsable requests).
func (e *gatewayError) write(ctx *fasthttp.RequestCtx, traceID []byte) {
	resp := &ctx.Response
	resp.Reset()
	resp.SetStatusCode(e.status)
	resp.Header.SetContentTypeBytes(strContentTypeJSON)
	resp.AppendBody(e.prefix)
	resp.AppendBody(traceID)
	resp.AppendBody(strJSONTail)
	if len(traceID) > 0 {
		resp.Header.SetBytesKV(strXTraceID, traceID)
	}
}

var (
	errUnauthorized    = newGatewayError(fasthttp.StatusUnauthorized, "unauthorized", "credential missing or invalid")
	strWWWAuthenticate = []byte(fasthttp.HeaderWWWAuthenticate)
	strBearerRealm     = []byte(`Bearer realm="gateway"`)
)
