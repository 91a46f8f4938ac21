package respcache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/textproto"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// AppendKey appends the cache key of a request to dst and returns the
// extended slice, without allocating when dst has room.
//
// Each part (route name, path, query, then each vary value in order) is
// written as its length in unsigned varint form followed by its bytes.
// That encoding is prefix-free, so no choice of path, query or header value
// can make two different requests produce the same key: there is no
// separator a client could smuggle into a value. Keys are binary; they are
// only ever compared, hashed and stored.
func AppendKey(dst []byte, route string, path, query []byte, vary ...[]byte) []byte {
	dst = appendString(dst, route)
	dst = appendField(dst, path)
	dst = appendField(dst, query)
	for _, v := range vary {
		dst = appendField(dst, v)
	}
	return dst
}

func appendField(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// Rule is one route's compiled cache configuration: what the key is made
// of and how long responses live. Build it once per configuration with
// NewRule; it is read-only afterwards and safe for concurrent use.
type Rule struct {
	// Route is the route's name, the first part of every key, so that two
	// routes never share entries.
	Route string

	// TTL is how long a stored response is fresh. A backend's max-age or
	// s-maxage shortens it, never lengthens it.
	TTL time.Duration

	// ByUser makes the key carry the authenticated subject, so every user
	// has entries of their own. Only then may responses marked
	// Cache-Control: private be stored, and a backend's Vary:
	// Authorization be honoured.
	ByUser bool

	// Headers are the request headers whose values are part of the key, in
	// canonical form. A backend's Vary naming any other request header
	// makes its response uncacheable.
	Headers []string
}

// Vary entries accepted by NewRule, as written in the configuration.
const (
	VaryUser         = "user"
	VaryHeaderPrefix = "header:"
)

// ErrBadVary is returned by NewRule for a vary entry that is neither
// "user" nor "header:NAME"; the configuration validator rejects these
// first, so seeing it means the two disagree.
var ErrBadVary = errors.New(`respcache: vary entries are "user" or "header:NAME"`)

// NewRule compiles a route's cache section: ttl from `cache.ttl`, vary
// from `cache.vary`.
func NewRule(route string, ttl time.Duration, vary []string) (*Rule, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("respcache: route %q: ttl must be positive, got %v", route, ttl)
	}
	r := &Rule{Route: route, TTL: ttl}
	for _, v := range vary {
		name, isHeader := strings.CutPrefix(v, VaryHeaderPrefix)
		switch {
		case v == VaryUser:
			r.ByUser = true
		case isHeader && name != "" && !strings.ContainsAny(name, " \t:"):
			r.Headers = append(r.Headers, textproto.CanonicalMIMEHeaderKey(name))
		default:
			return nil, fmt.Errorf("%w: route %q has %q", ErrBadVary, route, v)
		}
	}
	return r, nil
}

// Keys reports whether r can key a request made by user (nil for none).
// A rule varied by user cannot key one without a user (a public route, a
// token without sub): one entry would be shared by every such client, and
// the rule lets Cache-Control: private responses be stored. Such a request
// must neither read nor store.
func (r *Rule) Keys(user []byte) bool { return !r.ByUser || len(user) > 0 }

// AppendKey appends the key of req under r to dst, without allocating when
// dst has room: AppendKey(dst, r.Route, path, query, host, user, headers...)
// where path is the request's path as the client sent it (not decoded or
// normalised, so that two paths the backend may tell apart never share an
// entry), query its raw query string, host its Host header (the backend
// sees it as X-Forwarded-Host and may build links from it), user the
// authenticated subject when r.ByUser (ignored otherwise), and then the
// value of each header of r.Headers (empty when absent; for a repeated
// header, its first value).
//
// AppendKey reads req's URI, which fasthttp parses on first use; it is
// safe only where req is, on the request's own goroutine.
func (r *Rule) AppendKey(dst []byte, req *fasthttp.Request, user []byte) []byte {
	uri := req.URI()
	dst = appendString(dst, r.Route)
	dst = appendField(dst, uri.PathOriginal())
	dst = appendField(dst, uri.QueryString())
	dst = appendField(dst, req.Header.Host())
	if r.ByUser {
		dst = appendField(dst, user)
	}
	for _, h := range r.Headers {
		dst = appendField(dst, req.Header.Peek(h))
	}
	return dst
}
