package jwtcache

import (
	"slices"
	"strings"
	"time"
)

// Identity is what a verified credential grants. Identities are cached and
// shared between requests: once returned, an Identity and every slice in it
// are immutable, and callers must not modify them.
type Identity struct {
	// Subject names the principal: the JWT or introspection "sub" claim,
	// or the consumer of an API key. Rate limits by user or API key count
	// by it. Empty when a token has no "sub".
	Subject []byte
	// Consumer is the consumer an API key was issued to; empty for tokens.
	Consumer []byte
	// Headers are the name/value pairs to set on the upstream request, in
	// a stable order: the claims_to_headers mapping for tokens (ordered by
	// claim name), X-Consumer-ID and X-Plan for API keys. Values never
	// contain control characters.
	Headers []Header
	// Expires is when the credential stops being valid; zero for never.
	Expires time.Time
}

// Header is one request header an Identity sets upstream.
type Header struct{ Name, Value []byte }

// claimMapper turns claims into upstream headers as claims_to_headers
// says. It is built once per configuration and shared.
type claimMapper []claimHeader

type claimHeader struct {
	claim string
	name  []byte
}

// newClaimMapper compiles a claim-to-header mapping, ordered by claim name
// so that every Identity lists its headers in the same order.
func newClaimMapper(m map[string]string) claimMapper {
	out := make(claimMapper, 0, len(m))
	for claim, header := range m {
		out = append(out, claimHeader{claim: claim, name: []byte(header)})
	}
	slices.SortFunc(out, func(a, b claimHeader) int { return strings.Compare(a.claim, b.claim) })
	return out
}

// headers returns the headers for a token's claims, given as raw JSON
// values by name. A claim that is absent, empty or of a type that has no
// text form (object, boolean, null, an array holding anything but strings)
// sets no header. A value with a control character, or a list with a comma
// inside an element, refuses the whole token rather than dropping the
// header: a backend must never mistake a missing X-Tenant-ID for "no
// tenant" because a signed claim was unusable; CR, LF or NUL in a header
// is at best a broken request and at worst a smuggled one; and a role
// "a,admin" must not arrive as the two roles "a" and "admin".
func (m claimMapper) headers(claims map[string][]byte) ([]Header, *Error) {
	var out []Header
	for _, c := range m {
		raw, ok := claims[c.claim]
		if !ok {
			continue
		}
		text, ok, exact := claimText(raw)
		if !ok || text == "" {
			continue
		}
		if !exact || !headerSafe(text) {
			return nil, errHeaderValue
		}
		out = append(out, Header{Name: c.name, Value: []byte(text)})
	}
	return out, nil
}

// headerSafe reports whether s may be sent as a header value: no control
// characters other than horizontal tab, and no DEL.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
