package edge

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/gateway/jwtcache"
	"github.com/edgegate/gateway/limiter"
)

// limitKind is what a rate-limit policy counts by.
type limitKind uint8

const (
	limitByIP limitKind = iota
	limitByAPIKey
	limitByUser
	limitByHeader
)

// policy is one rate-limit policy as a route applies it.
type policy struct {
	name    string
	limiter *limiter.Limiter
	kind    limitKind
	header  []byte // limitByHeader
}

// limitStage runs a route's policies. Every policy is charged; the
// tightest decides: any refusal refuses, and the headers describe the
// policy with the least left.
type limitStage struct {
	policies []*policy
}

// Key prefixes keep the kinds apart: a header value that reads like an IP
// address must not share a bucket with that address.
var (
	strKeyIP       = []byte("ip:")
	strKeyConsumer = []byte("c:")
	strKeyUser     = []byte("u:")
	strKeyHeader   = []byte("h:")
)

// key builds the limiter key of one policy into dst. A request lacking
// what the policy counts by (no verified API key, no verified user, no
// header) is counted by client IP instead: a limit is never skipped.
//
// An api_key policy counts by the consumer of a key the route verified.
// An unverified key (a public route, or one beside a token) counts for
// nothing: the client chooses it freely, and a fresh one per request would
// buy a fresh quota.
func (p *policy) key(dst []byte, ctx *fasthttp.RequestCtx, id *jwtcache.Identity) []byte {
	switch p.kind {
	case limitByAPIKey:
		if id != nil && len(id.Consumer) > 0 {
			return append(append(dst, strKeyConsumer...), id.Consumer...)
		}
	case limitByUser:
		if id != nil && len(id.Subject) > 0 {
			return append(append(dst, strKeyUser...), id.Subject...)
		}
	case limitByHeader:
		if v := ctx.Request.Header.PeekBytes(p.header); len(v) > 0 {
			return append(append(dst, strKeyHeader...), v...)
		}
	}
	dst = append(dst, strKeyIP...)
	if ip, ok := netip.AddrFromSlice(ctx.RemoteIP()); ok {
		dst = ip.Unmap().AppendTo(dst)
	}
	return dst
}

// check charges every policy and returns the deciding decision.
func (s *limitStage) check(ctx *fasthttp.RequestCtx, x *exchange, id *jwtcache.Identity) limiter.Decision {
	var worst limiter.Decision
	for i, p := range s.policies {
		x.limitKey = p.key(x.limitKey[:0], ctx, id)
		d := p.limiter.Allow(x.limitKey)
		if i == 0 || tighter(d, worst) {
			worst = d
		}
	}
	return worst
}

// tighter reports whether a should decide over b: unavailable over
// refused over allowed, then the one with less left, then the later reset.
func tighter(a, b limiter.Decision) bool {
	if a.Unavailable != b.Unavailable {
		return a.Unavailable
	}
	if a.Allowed != b.Allowed {
		return !a.Allowed
	}
	if !a.Allowed {
		return a.RetryAfter > b.RetryAfter
	}
	if a.Remaining != b.Remaining {
		return a.Remaining < b.Remaining
	}
	return a.Reset > b.Reset
}

var (
	strRateLimitLimit     = []byte("RateLimit-Limit")
	strRateLimitRemaining = []byte("RateLimit-Remaining")
	strRateLimitReset     = []byte("RateLimit-Reset")
	strRetryAfter         = []byte(fasthttp.HeaderRetryAfter)
)

// writeLimitHeaders sets the RateLimit-* headers of d, and Retry-After
// when d refused. Seconds are rounded up: a client told 0 would retry at
// once and be refused again.
func writeLimitHeaders(h *fasthttp.ResponseHeader, d *limiter.Decision, buf []byte) []byte {
	buf = strconv.AppendInt(buf[:0], int64(d.Limit), 10)
	h.SetBytesKV(strRateLimitLimit, buf)
	buf = strconv.AppendInt(buf[:0], int64(max(d.Remaining, 0)), 10)
	h.SetBytesKV(strRateLimitRemaining, buf)
	buf = strconv.AppendInt(buf[:0], ceilSeconds(d.Reset), 10)
	h.SetBytesKV(strRateLimitReset, buf)
	if !d.Allowed && !d.Unavailable {
		buf = strconv.AppendInt(buf[:0], max(ceilSeconds(d.RetryAfter), 1), 10)
		h.SetBytesKV(strRetryAfter, buf)
	}
	return buf
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// parseLimitKey reads a policy's key setting (validated by config).
func parseLimitKey(s string) (limitKind, []byte) {
	switch {
	case s == "api_key":
		return limitByAPIKey, nil
	case s == "user":
		return limitByUser, nil
	case strings.HasPrefix(s, "header:"):
		return limitByHeader, []byte(strings.TrimPrefix(s, "header:"))
	default:
		return limitByIP, nil
	}
}
