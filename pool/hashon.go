package pool

import (
	"fmt"
	"net"
	"strings"

	"github.com/valyala/fasthttp"
)

// HashOn is a parsed hash_on setting: which part of a request keys it for
// consistent hashing, in a service's balancer or a route's canary split.
// The zero HashOn finds no key in any request. A HashOn is immutable and
// safe for concurrent use.
type HashOn struct {
	kind hashKind
	// name is the header or cookie name as configured.
	name string
}

type hashKind uint8

const (
	hashNone hashKind = iota
	hashHeader
	hashCookie
	hashIP
)

// ParseHashOn parses "header:NAME", "cookie:NAME" or "ip".
func ParseHashOn(s string) (HashOn, error) {
	if s == "ip" {
		return HashOn{kind: hashIP}, nil
	}
	prefix, name, found := strings.Cut(s, ":")
	if !found || (prefix != "header" && prefix != "cookie") {
		return HashOn{}, fmt.Errorf("hash_on %q: want header:NAME, cookie:NAME or ip", s)
	}
	if !isToken(name) {
		return HashOn{}, fmt.Errorf("hash_on %q: %s name %q is not a valid token", s, prefix, name)
	}
	if prefix == "cookie" {
		return HashOn{kind: hashCookie, name: name}, nil
	}
	return HashOn{kind: hashHeader, name: name}, nil
}

// isToken reports whether s is a non-empty RFC 9110 token, the syntax of
// header and cookie names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// String returns h as ParseHashOn accepts it, "" for the zero HashOn.
func (h HashOn) String() string {
	switch h.kind {
	case hashHeader:
		return "header:" + h.name
	case hashCookie:
		return "cookie:" + h.name
	case hashIP:
		return "ip"
	}
	return ""
}

// Key returns the request's key and true, or 0 and false when the request
// has none: the header or cookie is absent or empty, or remoteIP is nil for
// "ip". The key is never 0 when found.
//
// The key is FNV-1a 64 of the value, mixed with MurmurHash3's 64-bit
// finaliser: the same value gives the same key in every process and on
// every machine, so all gateways send one client to one instance. (A
// per-process random key, as in hash/maphash, would not.) An IP address is
// hashed in its 16-byte form, so 192.0.2.1 and ::ffff:192.0.2.1 agree. Key
// does not allocate. A header is looked up as fasthttp's Peek does:
// case-insensitively, unless the request has header normalizing turned off,
// when the name must match as configured. Cookie names are case-sensitive.
func (h HashOn) Key(req *fasthttp.Request, remoteIP net.IP) (uint64, bool) {
	var v []byte
	switch h.kind {
	case hashHeader:
		v = req.Header.Peek(h.name)
	case hashCookie:
		v = req.Header.Cookie(h.name)
	case hashIP:
		v = remoteIP.To16()
	}
	if len(v) == 0 {
		return 0, false
	}
	k := fmix64(fnv1a(fnvOffset, v))
	if k == 0 {
		// 0 means "no key" to the balancer; one value in 2^64 moves over.
		k = 1
	}
	return k, true
}

// FNV-1a 64 parameters.
const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime  uint64 = 1099511628211
)

// fnv1a continues FNV-1a 64 from h over b.
func fnv1a(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// fnv1aString continues FNV-1a 64 from h over s.
func fnv1aString(h uint64, s string) uint64 {
	for i := range len(s) {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// fmix64 is MurmurHash3's 64-bit finaliser: every input bit affects every
// output bit, which FNV alone does not achieve for short inputs, and a
// ring needs keys spread over all 64 bits.
func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}
