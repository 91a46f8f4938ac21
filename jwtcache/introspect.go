package jwtcache

import (
	"encoding/base64"
	"errors"
	"net/url"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// Defaults of IntrospectionOptions.
const (
	DefaultNegativeCache         = 5 * time.Second
	DefaultIntrospectionMaxCache = 5 * time.Minute
	DefaultIntrospectionEntries  = 10000
	DefaultIntrospectionTimeout  = 2 * time.Second
)

// IntrospectionOptions configures an Introspector. Zero fields take the
// default named in their comment.
type IntrospectionOptions struct {
	// URL is the introspection endpoint (RFC 7662 §2).
	URL string
	// ClientID and ClientSecret authenticate the gateway to the endpoint
	// with HTTP Basic (RFC 6749 §2.3.1).
	ClientID     string
	ClientSecret string
	// ClaimsToHeaders maps fields of the introspection response to
	// upstream headers, as for JWT claims.
	ClaimsToHeaders map[string]string
	// NegativeCache is how long an inactive token is remembered. Default
	// 5s.
	NegativeCache time.Duration
	// MaxCache bounds how long an active token is remembered: until its
	// exp, but never longer than this, so that a token revoked at the
	// authorization server stops working here within MaxCache. Default 5m.
	MaxCache time.Duration
	// CacheEntries bounds the active tokens remembered, and separately the
	// inactive ones, so that a flood of bogus tokens cannot push out good
	// ones. Default 10000 each.
	CacheEntries int
	// Timeout bounds one introspection call. Default 2s.
	Timeout time.Duration
	// MaxTokenBytes refuses longer tokens without a call. Default 8 KiB.
	MaxTokenBytes int
	// Now is the clock for the caches and exp. Default time.Now.
	Now func() time.Time
	// Log receives failed calls. Default: nothing is logged.
	Log *zap.Logger
}

// Introspector checks opaque bearer tokens with the authorization server's
// introspection endpoint (RFC 7662) and caches the answers. It is safe for
// concurrent use.
type Introspector struct {
	opts     IntrospectionOptions
	mapper   claimMapper
	auth     []byte
	client   *fasthttp.Client
	positive *tokenCache[*Identity]
	negative *tokenCache[*Error]

	mu      sync.Mutex
	flights map[string]*flight
}

// flight is an introspection call in progress; requests for the same token
// wait for it instead of making their own.
type flight struct {
	done chan struct{}
	id   *Identity
	err  *Error
}

// NewIntrospector returns an Introspector for o.
func NewIntrospector(o IntrospectionOptions) (*Introspector, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("jwtcache: introspection needs an http or https URL")
	}
	setDefault(&o.NegativeCache, DefaultNegativeCache)
	setDefault(&o.MaxCache, DefaultIntrospectionMaxCache)
	setDefault(&o.CacheEntries, DefaultIntrospectionEntries)
	setDefault(&o.Timeout, DefaultIntrospectionTimeout)
	setDefault(&o.MaxTokenBytes, DefaultMaxTokenBytes)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	i := &Introspector{
		opts:   o,
		mapper: newClaimMapper(o.ClaimsToHeaders),
		client: &fasthttp.Client{
			ReadTimeout:         o.Timeout,
			WriteTimeout:        o.Timeout,
			MaxResponseBodySize: 1 << 20,
			// A failed call is answered 503 and the client may retry;
			// fasthttp's own retries would only multiply the wait.
			MaxIdemponentCallAttempts: 1,
			NoDefaultUserAgentHeader:  true,
		},
		positive: newTokenCache[*Identity](o.CacheEntries),
		negative: newTokenCache[*Error](o.CacheEntries),
		flights:  make(map[string]*flight),
	}
	if o.ClientID != "" {
		cred := url.QueryEscape(o.ClientID) + ":" + url.QueryEscape(o.ClientSecret)
		i.auth = []byte("Basic " + base64.StdEncoding.EncodeToString([]byte(cred)))
	}
	return i, nil
}

// Close releases the idle connections to the endpoint.
func (i *Introspector) Close() { i.client.CloseIdleConnections() }

// Verify checks an opaque bearer token. An active token grants an Identity
// (Subject from "sub", Headers from ClaimsToHeaders, Expires from "exp");
// an inactive or expired one is refused with 401 and remembered for
// NegativeCache. When the endpoint cannot be reached, times out, answers
// anything but 200 or an unreadable body, Verify returns a 503 Error,
// which is not cached. Concurrent requests for one token share one call;
// a remembered token is answered without allocating.
func (i *Introspector) Verify(token []byte) (*Identity, *Error) {
	switch {
	case len(token) == 0:
		return nil, ErrNoCredential
	case len(token) > i.opts.MaxTokenBytes:
		return nil, errTooLarge
	case !bearerToken68(token):
		return nil, errMalformed
	}
	h := i.positive.hash(token)
	now := i.opts.Now().UnixNano()
	if id, err, ok := i.cached(h, token, now); ok {
		return id, err
	}

	i.mu.Lock()
	if f, ok := i.flights[string(token)]; ok {
		i.mu.Unlock()
		<-f.done
		return f.id, f.err
	}
	// The call that just ended may have filled the cache after this
	// request looked.
	if id, err, ok := i.cached(h, token, now); ok {
		i.mu.Unlock()
		return id, err
	}
	f := &flight{done: make(chan struct{})}
	key := string(token)
	i.flights[key] = f
	i.mu.Unlock()

	f.id, f.err = i.ask(h, token)

	i.mu.Lock()
	delete(i.flights, key)
	i.mu.Unlock()
	close(f.done)
	return f.id, f.err
}

func (i *Introspector) cached(h uint64, token []byte, now int64) (*Identity, *Error, bool) {
	if id, ok := i.positive.get(h, token, now, 0); ok {
		return id, nil, true
	}
	if err, ok := i.negative.get(h, token, now, 0); ok {
		return nil, err, true
	}
	return nil, nil, false
}

var (
	strFormToken   = []byte("token=")
	strAccessToken = []byte("&token_type_hint=access_token")
)

// ask makes the introspection call and caches its answer.
func (i *Introspector) ask(h uint64, token []byte) (*Identity, *Error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(i.opts.URL)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/x-www-form-urlencoded")
	req.Header.Set(fasthttp.HeaderAccept, "application/json")
	if i.auth != nil {
		req.Header.SetBytesKV(strAuthorization, i.auth)
	}
	body := make([]byte, 0, len(strFormToken)+len(token)+len(strAccessToken)+16)
	body = fasthttp.AppendQuotedArg(append(body, strFormToken...), token)
	req.SetBodyRaw(append(body, strAccessToken...))

	if err := i.client.DoTimeout(req, resp, i.opts.Timeout); err != nil {
		i.opts.Log.Warn("token introspection failed", zap.String("url", i.opts.URL), zap.Error(err))
		return nil, errIntrospection
	}
	if resp.StatusCode() != fasthttp.StatusOK {
		i.opts.Log.Warn("token introspection failed", zap.String("url", i.opts.URL), zap.Int("status", resp.StatusCode()))
		return nil, errIntrospection
	}
	now := i.opts.Now().UnixNano()
	id, until, refusal, err := i.answer(resp.Body(), now)
	if err != nil {
		i.opts.Log.Warn("token introspection answer unreadable", zap.String("url", i.opts.URL), zap.Error(err))
		return nil, errIntrospection
	}
	if refusal != nil {
		i.negative.put(h, token, refusal, now+int64(i.opts.NegativeCache), 0, now)
		return nil, refusal
	}
	i.positive.put(h, token, id, until, 0, now)
	return id, nil
}

var errAnswer = errors.New("malformed introspection response")

// answer reads an introspection response (RFC 7662 §2.2). It returns the
// identity of an active token and until when to remember it, or the
// refusal of an inactive one, or an error for an answer the gateway cannot
// trust (not JSON, repeated fields, mistyped exp or sub).
func (i *Introspector) answer(body []byte, now int64) (*Identity, int64, *Error, error) {
	fields := make(map[string][]byte, 8)
	err := eachMember(body, func(name string, value []byte) error {
		if _, dup := fields[name]; dup {
			return errAnswer
		}
		fields[name] = value
		return nil
	})
	if err != nil {
		return nil, 0, nil, err
	}
	if string(fields["active"]) != "true" {
		return nil, 0, errInactive, nil
	}
	until := now + int64(i.opts.MaxCache)
	id := &Identity{}
	if raw, ok := fields["exp"]; ok {
		exp, ok := jsonSeconds(raw)
		if !ok {
			return nil, 0, nil, errAnswer
		}
		if exp <= now {
			return nil, 0, errInactive, nil
		}
		until = min(until, exp)
		id.Expires = time.Unix(0, exp)
	}
	if raw, ok := fields["sub"]; ok {
		sub, err := jsonString(raw)
		if err != nil {
			return nil, 0, nil, errAnswer
		}
		if sub != "" {
			id.Subject = []byte(sub)
		}
	}
	headers, refusal := i.mapper.headers(fields)
	if refusal != nil {
		return nil, 0, refusal, nil
	}
	id.Headers = headers
	return id, until, nil, nil
}

// bearerToken68 reports whether token uses only the characters RFC 6750
// §2.1 allows in a bearer token.
func bearerToken68(token []byte) bool {
	for _, c := range token {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/', c == '=':
		default:
			return false
		}
	}
	return true
}
