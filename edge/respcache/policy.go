package respcache

import (
	"bytes"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// verdict is what may be done with a backend response.
type verdict uint8

const (
	// personal responses reach only the client they were made for: they
	// set a cookie, are marked no-store (or private on a route that does
	// not vary by user), depend on request headers the key does not
	// hold, or are streamed or bodiless (HEAD). Collapsed callers waiting
	// for one fetch their own.
	personal verdict = iota
	// shareable responses may be handed to callers collapsed onto the
	// same fetch, but not stored: a status that is not cacheable,
	// no-cache, or a lifetime of zero.
	shareable
	// storable responses are kept for their TTL.
	storable
)

// cacheableStatus reports whether responses with status may be stored:
// the codes RFC 9110 §15.1 calls heuristically cacheable, less 405, 414
// and 501, which depend on the request more than on the resource. Errors
// of the backend (5xx) are never stored: the cache serves stale entries
// for those instead.
func cacheableStatus(status int) bool {
	switch status {
	case fasthttp.StatusOK, fasthttp.StatusNonAuthoritativeInfo, fasthttp.StatusNoContent,
		fasthttp.StatusMultipleChoices, fasthttp.StatusMovedPermanently, fasthttp.StatusPermanentRedirect,
		fasthttp.StatusNotFound, fasthttp.StatusGone:
		return true
	}
	return false
}

// scratch buffers for header blocks: a block is built before the entry's
// size is known, then copied into the entry's single buffer.
var scratchPool = sync.Pool{New: func() any { return new([]byte) }}

// snapshot judges a backend response under rule r and, unless it is
// personal, copies it into an Entry stored at now. For a storable
// response the entry expires after the TTL (the rule's, shortened by the
// backend's s-maxage or max-age); otherwise it is born expired and is
// only fit to hand to collapsed callers.
func snapshot(key []byte, resp *fasthttp.Response, r *Rule, now time.Time, clock func() time.Time) (*Entry, verdict) {
	if resp.IsBodyStream() || resp.SkipBody {
		return nil, personal
	}
	bp := scratchPool.Get().(*[]byte)
	defer func() { *bp = (*bp)[:0]; scratchPool.Put(bp) }()

	var (
		cc      = cacheControl{maxAge: -1, sMaxAge: -1}
		varyOK  = true
		cookie  bool
		encoded = len(resp.Header.ContentEncoding()) > 0
		block   = (*bp)[:0]
	)
	for name, value := range resp.Header.All() {
		switch {
		case equalFold(name, "set-cookie"):
			cookie = true
		case equalFold(name, "cache-control"):
			cc.parse(value)
		case equalFold(name, "vary"):
			varyOK = varyOK && varyCovered(value, r, encoded)
		}
		if perRequestHeader(name) {
			continue
		}
		block = appendHeader(block, seenHeader(block, name), name, value)
	}
	*bp = block
	if cookie || cc.noStore || (cc.private && !r.ByUser) || !varyOK {
		return nil, personal
	}

	v := storable
	ttl := r.TTL
	switch {
	case cc.sMaxAge >= 0:
		ttl = min(ttl, cc.sMaxAge)
	case cc.maxAge >= 0:
		ttl = min(ttl, cc.maxAge)
	}
	if ttl <= 0 || cc.noCache || !cacheableStatus(resp.StatusCode()) {
		v, ttl = shareable, 0
	}
	var flags uint8
	if cc.mustRevalidate {
		flags |= flagNoStale
	}
	e := encode(key, resp.StatusCode(), now, now.Add(ttl), flags, block, resp.Body(), clock)
	return e, v
}

// seenHeader reports whether the encoded block already holds a header
// called name, in which case the next value is added, not set. Blocks are
// short, so the linear scan costs less than any index.
func seenHeader(block, name []byte) bool {
	for len(block) > 0 {
		_, n, _, rest, ok := nextHeader(block)
		if !ok {
			return false
		}
		if equalFoldBytes(n, name) {
			return true
		}
		block = rest
	}
	return false
}

// perRequestHeader reports whether a response header belongs to one
// exchange rather than to the resource, and so is not stored: framing and
// hop-by-hop headers, Date (the server writes its own), Age and X-Cache
// (written on every hit), and the headers the gateway itself adds per
// request (X-Trace-ID, RateLimit-*), in case they are already on the
// response when it is stored. Set-Cookie never gets here: it makes the
// response personal.
func perRequestHeader(name []byte) bool {
	switch len(name) {
	case 2:
		return equalFold(name, "te")
	case 3:
		return equalFold(name, "age")
	case 4:
		return equalFold(name, "date")
	case 7:
		return equalFold(name, "trailer") || equalFold(name, "upgrade") || equalFold(name, "x-cache")
	case 10:
		return equalFold(name, "connection") || equalFold(name, "keep-alive") || equalFold(name, "x-trace-id")
	case 14:
		return equalFold(name, "content-length")
	case 17:
		return equalFold(name, "transfer-encoding")
	}
	return hasPrefixFold(name, "proxy-") || hasPrefixFold(name, "ratelimit-")
}

// varyCovered reports whether every request header a backend's Vary value
// names is accounted for by the key: a header of r.Headers,
// Authorization on a route varied by user, or Accept-Encoding when the
// body is not encoded (an identity body suits every client). "*" is never
// covered.
func varyCovered(vary []byte, r *Rule, encoded bool) bool {
	for rest := vary; len(rest) > 0; {
		var name []byte
		name, rest, _ = bytes.Cut(rest, []byte{','})
		name = bytes.Trim(name, " \t")
		switch {
		case len(name) == 0:
		case equalFold(name, "accept-encoding") && !encoded:
		case equalFold(name, "authorization") && r.ByUser:
		default:
			covered := false
			for _, h := range r.Headers {
				if equalFoldString(name, h) {
					covered = true
					break
				}
			}
			if !covered {
				return false
			}
		}
	}
	return true
}

// cacheControl holds the response directives the cache acts on. Ages are
// -1 when absent.
type cacheControl struct {
	noStore, noCache, private, mustRevalidate bool
	maxAge, sMaxAge                           time.Duration
}

// maxDelta caps a parsed age, as RFC 9111 §1.2.2 allows, so that huge
// values cannot overflow a Duration.
const maxDelta = 1<<31 - 1

// parse reads one Cache-Control field value into cc; a response may carry
// several, and the strictest reading of all of them wins. Directive names
// are matched case-insensitively. A qualified no-cache or private (with a
// list of field names) is treated as unqualified, which is stricter than
// RFC 9111 asks; an unparseable max-age counts as 0, as §4.2.1 says.
func (cc *cacheControl) parse(v []byte) {
	for rest := v; len(rest) > 0; {
		var d []byte
		d, rest, _ = bytes.Cut(rest, []byte{','})
		name, arg, _ := bytes.Cut(d, []byte{'='})
		name = bytes.Trim(name, " \t")
		switch {
		case equalFold(name, "no-store"):
			cc.noStore = true
		case equalFold(name, "no-cache"):
			cc.noCache = true
		case equalFold(name, "private"):
			cc.private = true
		case equalFold(name, "must-revalidate"), equalFold(name, "proxy-revalidate"):
			cc.mustRevalidate = true
		case equalFold(name, "max-age"):
			cc.maxAge = lowerAge(cc.maxAge, parseDelta(arg))
		case equalFold(name, "s-maxage"):
			cc.sMaxAge = lowerAge(cc.sMaxAge, parseDelta(arg))
			// A shared cache must not serve a response with s-maxage
			// stale (RFC 9111 §5.2.2.10).
			cc.mustRevalidate = true
		}
	}
}

func lowerAge(old, d time.Duration) time.Duration {
	if old < 0 || d < old {
		return d
	}
	return old
}

// parseDelta parses delta-seconds, quoted or not; anything else is 0.
func parseDelta(b []byte) time.Duration {
	b = bytes.Trim(b, " \t")
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	if len(b) == 0 {
		return 0
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0
		}
		if n = n*10 + int64(c-'0'); n > maxDelta {
			n = maxDelta
		}
	}
	return time.Duration(n) * time.Second
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold reports whether s equals the lower-case ASCII string t,
// ignoring the case of s.
func equalFold(s []byte, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range len(s) {
		if lowerASCII(s[i]) != t[i] {
			return false
		}
	}
	return true
}

func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

// equalFoldString is equalFold for a t of any case.
func equalFoldString(s []byte, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range len(s) {
		if lowerASCII(s[i]) != lowerASCII(t[i]) {
			return false
		}
	}
	return true
}

func hasPrefixFold(s []byte, prefix string) bool {
	return len(s) >= len(prefix) && equalFold(s[:len(prefix)], prefix)
}
