// Package jwtcache authenticates requests at the edge: JSON Web Tokens
// verified locally, API keys looked up in Redis or a key file, and opaque
// tokens checked with an introspection endpoint (RFC 7662). Each check
// ends in an *Identity, which the gateway turns into upstream headers and
// rate-limit keys, or in an *Error carrying the status to answer: 401 for
// no valid credential, 403 for a valid one that is not allowed (wrong
// audience, revoked key), 503 when the check could not be made.
//
// # The request path
//
// The gateway takes the credential from the request with BearerToken or
// APIKey (neither allocates), and hands it to the verifiers the route
// accepts. LooksLikeJWT decides whether a bearer token goes to JWT or to
// Introspector when a route accepts both.
//
// JWT.Verify first looks the token up in a sharded cache, by a hash of its
// bytes under a random key; an entry holds the whole token (compared on every
// hit, so a hash collision is a miss, never a confusion), the shared
// Identity, and the token's exp plus leeway, read against the clock on
// every hit. A hit costs a hash, a read lock and a comparison (about
// 0.1 µs) and allocates nothing, where a full verification costs 12 µs
// (HS256) to 130 µs (ES256) and some 90 allocations, most of them the jwt
// library's. Only verified tokens are cached, so a
// flood of forged ones never evicts a good entry or grows memory; a full
// shard makes room with CLOCK (see tokenCache).
//
// On a miss every check runs, cheapest first: size, shape (exactly three
// base64url parts, canonically encoded), the JOSE header (alg in the
// allow-list, no crit, no repeated names), the claims (no repeated names,
// a numeric exp that has not passed, nbf, iss, aud present when audiences
// are configured), then the signature, and only then the audience, whose
// mismatch answers 403 and so must be about a genuine token.
//
// # Where the gateway is stricter than the jwt library
//
// github.com/pascaldekloe/jwt checks the signatures, one key at a time
// (RSACheck, ECDSACheck, EdDSACheck, HMAC.Check); this package chooses the
// key and reads the token itself, because the library's KeyRegister.Check
// and Claims are lenient where an edge must not be:
//
//   - Keys are chosen by kid, never by trial. An unknown kid is refused
//     after one re-read of the JWKS. A token without a kid is accepted only
//     when exactly one key in force can verify its algorithm.
//   - A key is bound to its kind and algorithms: an RSA public key is never
//     an HMAC secret, an ES256 key never verifies ES384.
//   - exp is required and must be a number; four-part tokens, crit headers,
//     oversized tokens (MaxTokenBytes, 8 KiB) and repeated claim or header
//     names are refused. Header names are compared case-insensitively,
//     since the library reads the header case-insensitively.
//   - Claims mapped to headers must not contain control characters; such a
//     token is refused rather than forwarded without the header.
//
// # Keys
//
// Configured keys (HMAC secrets from env or file, PEM public keys) and the
// JWKS (file or URL) are read at start and every Refresh; a failing source
// keeps its previous keys. When a refresh removes or replaces a key, the
// key set's generation changes and every cached token is verified again.
// A token naming a kid nobody knows triggers one JWKS re-read: concurrent
// requests wait for the same read, and for UnknownKidCooldown after it
// unknown kids are refused without another, so an issuer's key rotation
// causes no outage and a flood of made-up kids no fetch storm.
//
// # API keys
//
// Raw keys are "gw_" and 32 random bytes in base64url; only their SHA-256
// (hex) is stored, in Redis as the hash apikey:{<sha256>} (consumer, plan,
// expires_at, revoked) or in a YAML key file (embedded mode). Redis
// records are read with rueidis client-side caching: a hot key costs no
// round trip and no allocation, and a revocation written by any instance
// is pushed by Redis to every instance's cache at once. The key file is
// polled every second. Issue, Rotate and Revoke manage keys through a
// KeyStore; `gateway keys` is their command line.
//
// # Introspection
//
// Opaque tokens are posted to the introspection endpoint with the
// gateway's client credentials. Active answers are cached until the
// token's exp (at most MaxCache), inactive ones for NegativeCache, in
// separate caches so that bogus tokens cannot evict good ones. Concurrent
// requests for one token share one call. An unreachable, slow or failing
// endpoint is a 503, never cached.
//
// Everything in the package is safe for concurrent use. Verifiers are built
// once per configuration (FromConfig, NewVerifiers) and closed with it.
package jwtcache
