package jwtcache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Defaults of JWTOptions.
const (
	DefaultJWKSRefresh        = 5 * time.Minute
	DefaultFetchTimeout       = 3 * time.Second
	DefaultUnknownKidCooldown = 5 * time.Second
	DefaultJWTCacheEntries    = 100000
	// DefaultMaxTokenBytes bounds a bearer token. Real tokens are well
	// under 2 KiB; the bound keeps a megabyte of "token" from being
	// decoded, parsed and hashed.
	DefaultMaxTokenBytes = 8 << 10
)

// JWTOptions configures a JWT verifier. Zero fields take the default named
// in their comment. NewJWT reads it once.
type JWTOptions struct {
	// Issuer, when set, must equal the token's "iss".
	Issuer string
	// Audiences, when set, make "aud" required: a token without one is
	// refused (401), a token whose aud (a string or an array of strings)
	// names none of them is forbidden (403).
	Audiences []string
	// Leeway is the clock skew allowed on "exp" and "nbf". Default 0.
	Leeway time.Duration
	// Algorithms is the allow-list; required. "none" is refused.
	Algorithms []string
	// Keys are the configured keys, re-read every Refresh.
	Keys []StaticKey
	// JWKSURL or JWKSFile (at most one) is a JSON Web Key Set, read at
	// start, every Refresh, and when a token names an unknown kid.
	JWKSURL  string
	JWKSFile string
	// Refresh is how often Keys and the JWKS are re-read. Default 5m.
	Refresh time.Duration
	// FetchTimeout bounds one JWKS request. Default 3s.
	FetchTimeout time.Duration
	// UnknownKidCooldown is how long, after a JWKS re-read caused by an
	// unknown kid, further unknown kids are refused without another one.
	// Short enough that an issuer who starts signing with a new key moments
	// after a flood of made-up kids used the re-read is refused only
	// briefly; long enough that the flood costs the issuer next to
	// nothing. Default 5s.
	UnknownKidCooldown time.Duration
	// ClaimsToHeaders maps claim names to the upstream headers that carry
	// them.
	ClaimsToHeaders map[string]string
	// CacheEntries bounds the verified-token cache. Default 100000.
	CacheEntries int
	// MaxTokenBytes refuses longer tokens unread. Default 8 KiB.
	MaxTokenBytes int
	// HTTPClient fetches the JWKS URL. Default: a plain client.
	HTTPClient *http.Client
	// Getenv reads StaticKey.SecretEnv. Default os.Getenv.
	Getenv func(string) string
	// Now is the clock for exp, nbf, the cache and the cooldown. Default
	// time.Now.
	Now func() time.Time
	// Log receives key loading problems. Default: nothing is logged.
	Log *zap.Logger
}

// JWT verifies JSON Web Tokens (JWS compact serialization) and caches the
// identities of the ones that pass. It is safe for concurrent use; Close
// stops its background refresh.
type JWT struct {
	opts      JWTOptions
	allowed   algSet
	mapper    claimMapper
	audiences []string
	leeway    int64
	cache     *tokenCache[*Identity]
	keys      atomic.Pointer[keySet]

	// loadMu serialises key loading and the publishing of key sets.
	loadMu      sync.Mutex
	static      [][]*verifyKey // last good keys of each StaticKey
	jwks        []*verifyKey   // last good JWKS keys
	lastSkipped string

	// fetchMu guards the unknown-kid re-read: the one in flight (closed
	// when done) and when the last one started.
	fetchMu   sync.Mutex
	fetching  chan struct{}
	lastFetch time.Time

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// NewJWT loads the configured keys (an unreadable key is an error), reads
// the JWKS once (a failure is logged, not fatal: the gateway starts, and
// the JWKS is tried again on the next refresh or unknown kid), and starts
// the background refresh.
func NewJWT(o JWTOptions) (*JWT, error) {
	allowed, err := parseAlgorithms(o.Algorithms)
	if err != nil {
		return nil, err
	}
	if o.JWKSURL != "" && o.JWKSFile != "" {
		return nil, errors.New("jwtcache: set a JWKS URL or a JWKS file, not both")
	}
	if len(o.Keys) == 0 && o.JWKSURL == "" && o.JWKSFile == "" {
		return nil, errors.New("jwtcache: JWT verification needs keys or a JWKS")
	}
	if o.Leeway < 0 {
		return nil, fmt.Errorf("jwtcache: negative leeway %v", o.Leeway)
	}
	setDefault(&o.Refresh, DefaultJWKSRefresh)
	setDefault(&o.FetchTimeout, DefaultFetchTimeout)
	setDefault(&o.UnknownKidCooldown, DefaultUnknownKidCooldown)
	setDefault(&o.CacheEntries, DefaultJWTCacheEntries)
	setDefault(&o.MaxTokenBytes, DefaultMaxTokenBytes)
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	j := &JWT{
		opts:      o,
		allowed:   allowed,
		mapper:    newClaimMapper(o.ClaimsToHeaders),
		audiences: o.Audiences,
		leeway:    int64(o.Leeway),
		cache:     newTokenCache[*Identity](o.CacheEntries),
		static:    make([][]*verifyKey, len(o.Keys)),
		done:      make(chan struct{}),
	}
	for i := range o.Keys {
		keys, err := o.Keys[i].load(allowed, o.Getenv)
		if err != nil {
			return nil, fmt.Errorf("jwtcache: %s: %w", o.Keys[i].name(), err)
		}
		j.static[i] = keys
	}
	j.ctx, j.cancel = context.WithCancel(context.Background())
	if err := j.loadJWKS(); err != nil {
		o.Log.Warn("JWKS unavailable at start; tokens signed with its keys are refused until it is read", zap.Error(err))
	}
	j.publish()
	go j.loop()
	return j, nil
}

// Close stops the background refresh and waits for it to end.
func (j *JWT) Close() {
	j.cancel()
	<-j.done
}

// Verify checks a bearer token (the bytes after "Bearer ") and returns the
// identity it grants, or the refusal. A token verified before and still
// valid is answered from the cache without allocating.
func (j *JWT) Verify(token []byte) (*Identity, *Error) {
	switch {
	case len(token) == 0:
		return nil, ErrNoCredential
	case len(token) > j.opts.MaxTokenBytes:
		return nil, errTooLarge
	}
	now := j.opts.Now().UnixNano()
	set := j.keys.Load()
	h := j.cache.hash(token)
	if id, ok := j.cache.get(h, token, now, set.gen); ok {
		return id, nil
	}
	id, until, gen, err := j.verify(token, now, set)
	if err != nil {
		return nil, err
	}
	j.cache.put(h, token, id, until, gen, now)
	return id, nil
}

// verify is a cache miss: every check, cheapest first, with the signature
// after the checks a forger could pass anyway and before the one that
// answers 403, which asserts that the credential is genuine. It returns the
// identity, until when it may be cached (exp plus leeway) and the key
// generation it was verified under.
func (j *JWT) verify(token []byte, now int64, set *keySet) (*Identity, int64, uint64, *Error) {
	d1, d2, ok := splitToken(token)
	if !ok {
		return nil, 0, 0, errMalformed
	}
	buf := make([]byte, len(token))
	header, ok := decodeSegment(buf, token[:d1])
	if !ok {
		return nil, 0, 0, errMalformed
	}
	payload, ok := decodeSegment(buf[len(header):], token[d1+1:d2])
	if !ok {
		return nil, 0, 0, errMalformed
	}
	sig, ok := decodeSegment(buf[len(header)+len(payload):], token[d2+1:])
	if !ok {
		return nil, 0, 0, errMalformed
	}

	a, kid, err := j.parseHeader(header)
	if err != nil {
		return nil, 0, 0, err
	}
	claims, err := parseClaims(payload)
	if err != nil {
		return nil, 0, 0, err
	}
	exp, err := j.checkTime(claims, now)
	if err != nil {
		return nil, 0, 0, err
	}
	if err := j.checkIssuer(claims); err != nil {
		return nil, 0, 0, err
	}
	aud, err := j.audience(claims)
	if err != nil {
		return nil, 0, 0, err
	}
	var sub string
	if raw, ok := claims["sub"]; ok {
		var e error
		if sub, e = jsonString(raw); e != nil {
			return nil, 0, 0, errMalformed
		}
	}

	err = set.check(token, kid, a, len(sig))
	if err == errUnknownKid {
		if next := j.awaitKid(set); next != nil {
			set = next
			err = set.check(token, kid, a, len(sig))
		}
	}
	if err != nil {
		return nil, 0, 0, err
	}

	if !j.audienceMatches(aud) {
		return nil, 0, 0, errAudience
	}
	headers, err := j.mapper.headers(claims)
	if err != nil {
		return nil, 0, 0, err
	}
	id := &Identity{Headers: headers, Expires: time.Unix(0, exp)}
	if sub != "" {
		id.Subject = []byte(sub)
	}
	return id, addSat(exp, j.leeway), set.gen, nil
}

// addSat adds a non-negative duration to a time in nanoseconds, stopping
// at the largest time rather than wrapping around.
func addSat(t, d int64) int64 {
	if t > math.MaxInt64-d {
		return math.MaxInt64
	}
	return t + d
}

// setDefault sets *p to def when it is zero.
func setDefault[T int | time.Duration](p *T, def T) {
	if *p == 0 {
		*p = def
	}
}
