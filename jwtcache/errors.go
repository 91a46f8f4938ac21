package jwtcache

import "net/http"

// Error is a refusal: the status the gateway answers with and a short
// reason. Every Error the package returns is one of the preallocated values
// below, so a stream of refusals allocates nothing; compare them with ==
// and never modify one.
//
// Reasons say what is wrong without quoting the credential, so they are
// safe to log and to show the client. They contain no quote or backslash:
// the gateway puts them in the error_description of a WWW-Authenticate
// challenge (RFC 6750 §3).
type Error struct {
	// Status is 401 (no valid credential), 403 (a valid credential that is
	// not allowed) or 503 (the check could not be made).
	Status int
	// Reason is a short lower-case phrase, such as "token expired".
	Reason string
}

// Error returns the reason.
func (e *Error) Error() string { return e.Reason }

func unauthorized(reason string) *Error {
	return &Error{Status: http.StatusUnauthorized, Reason: reason}
}

// ErrNoCredential means the request carries no credential of the kind
// asked for (401). The gateway answers it without an error_description.
var ErrNoCredential = unauthorized("no credential")

// Refusals of bearer tokens, JWT or opaque.
var (
	errTooLarge    = unauthorized("token too large")
	errMalformed   = unauthorized("malformed token")
	errDuplicate   = unauthorized("duplicate claim or header name")
	errCrit        = unauthorized("critical header extensions are not supported")
	errAlgorithm   = unauthorized("algorithm not allowed")
	errKeyAlg      = unauthorized("algorithm does not match the key")
	errUnknownKid  = unauthorized("unknown key id")
	errNoKid       = unauthorized("token names no key id")
	errSignature   = unauthorized("invalid signature")
	errNoExpiry    = unauthorized("token has no expiry")
	errExpired     = unauthorized("token expired")
	errNotYetValid = unauthorized("token not yet valid")
	errIssuer      = unauthorized("wrong issuer")
	errNoAudience  = unauthorized("token has no audience")
	errHeaderValue = unauthorized("claim not usable as a header value")
	errInactive    = unauthorized("token inactive")

	// errAudience is 403: the token is genuine and current, it is just not
	// meant for this gateway (CONTRACT: wrong audience is forbidden).
	errAudience = &Error{Status: http.StatusForbidden, Reason: "wrong audience"}

	errIntrospection = &Error{Status: http.StatusServiceUnavailable, Reason: "token introspection unavailable"}
)

// Refusals of API keys.
var (
	errMalformedKey = unauthorized("malformed API key")
	errUnknownKey   = unauthorized("unknown API key")
	// errKeyExpired is 401 like an expired token: the key was valid and no
	// longer is, and the client's remedy is a new credential.
	errKeyExpired = unauthorized("API key expired")
	// errKeyRevoked is 403: the key is known and was deliberately
	// withdrawn (CONTRACT: revoked key is forbidden).
	errKeyRevoked = &Error{Status: http.StatusForbidden, Reason: "API key revoked"}
	// errKeyStore is 503: Redis could not be asked, so a 401 would be a
	// guess that locks out every client while Redis is down.
	errKeyStore = &Error{Status: http.StatusServiceUnavailable, Reason: "API key store unavailable"}
)
