package jwtcache

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

var (
	strAuthorization = []byte(fasthttp.HeaderAuthorization)
	strBearer        = []byte("bearer")
	strAPIKey        = []byte("apikey")
)

// BearerToken returns the token of an "Authorization: Bearer <token>"
// request header, or nil when there is none. The scheme is matched
// case-insensitively (RFC 9110 §11.1); spaces around the token are
// dropped. The result aliases the header and is valid until the request is
// released. It does not allocate.
func BearerToken(h *fasthttp.RequestHeader) []byte {
	return schemeCredential(h.PeekBytes(strAuthorization), strBearer)
}

// APIKey returns the API key of a request: the value of the configured
// header (X-API-Key by default) when present, else the credential of an
// "Authorization: ApiKey <key>" header, else nil. The result aliases the
// header and is valid until the request is released. It does not allocate.
func APIKey(h *fasthttp.RequestHeader, header []byte) []byte {
	if len(header) > 0 {
		if v := bytes.TrimSpace(h.PeekBytes(header)); len(v) > 0 {
			return v
		}
	}
	return schemeCredential(h.PeekBytes(strAuthorization), strAPIKey)
}

// LooksLikeJWT reports whether a bearer token has the shape of a JWS
// compact serialization (three parts, two dots), which is how a route that
// accepts both JWTs and opaque tokens chooses between local verification
// and introspection. It checks the shape only.
func LooksLikeJWT(token []byte) bool {
	return bytes.Count(token, dot) == 2
}

var dot = []byte{'.'}

// schemeCredential returns the credential of an Authorization value whose
// scheme is scheme (lower case), or nil.
func schemeCredential(v, scheme []byte) []byte {
	n := len(scheme)
	if len(v) <= n || v[n] != ' ' || !equalFoldASCII(v[:n], scheme) {
		return nil
	}
	if c := bytes.TrimSpace(v[n+1:]); len(c) > 0 {
		return c
	}
	return nil
}

// equalFoldASCII reports whether s equals lower, a lower-case ASCII word,
// ignoring the case of s.
func equalFoldASCII(s, lower []byte) bool {
	for i, c := range s {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
