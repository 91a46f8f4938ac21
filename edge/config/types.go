package config

import "time"

// Config is the whole configuration file. Every field's comment is the
// user's documentation and names its default; Defaults fills them in.
type Config struct {
	Server     Server                `yaml:"server"`
	Admin      Admin                 `yaml:"admin"`
	Redis      Redis                 `yaml:"redis"`
	Logging    Logging               `yaml:"logging"`
	Auth       Auth                  `yaml:"auth"`
	Services   map[string]*Service   `yaml:"services"`
	RateLimits map[string]*RateLimit `yaml:"rate_limits"`
	Routes     []*Route              `yaml:"routes"`

	// Path is the file the configuration was read from; relative file names
	// inside it (certificates, keys) are resolved against its directory.
	Path string `yaml:"-"`
}

// Duration is a time.Duration written in Go syntax ("250ms", "2s", "1m").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Server holds the client-facing listener and its limits.
type Server struct {
	// Listen is the plain HTTP address. Default ":8080"; flag -listen,
	// env GATEWAY_LISTEN.
	Listen string `yaml:"listen"`
	// ReadTimeout bounds reading a whole request, headers included, which
	// is what stops slowloris clients. Default 10s.
	ReadTimeout Duration `yaml:"read_timeout"`
	// WriteTimeout bounds writing a response. Default 10s.
	WriteTimeout Duration `yaml:"write_timeout"`
	// IdleTimeout closes keep-alive connections idle this long. Default 60s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds the request line and headers; larger is 431.
	// Default 16384.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxHeaderCount bounds the number of request header fields, Host
	// included; more is 431. The byte bound alone would still let a client
	// send thousands of tiny fields, each costing a slot and a pass of
	// every header scan. Default 100.
	MaxHeaderCount int `yaml:"max_header_count"`
	// MaxBodyBytes bounds a request body; larger is 413. Default 4194304.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// MaxConnections bounds concurrent client connections. Default 100000.
	MaxConnections int `yaml:"max_connections"`
	// MaxRequestsPerConn closes a keep-alive connection after this many
	// requests; 0 is unlimited. Default 0.
	MaxRequestsPerConn int `yaml:"max_requests_per_conn"`
	// ShutdownTimeout bounds how long SIGTERM waits for in-flight requests.
	// Default 30s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// ResponseCacheBytes bounds the memory of every route's cached
	// responses together; the least recently used are evicted. A
	// sixty-fourth of it is also the largest response cached. Default
	// 67108864 (64 MiB).
	ResponseCacheBytes int `yaml:"response_cache_bytes"`
	// TLS, when present, adds a TLS listener.
	TLS *TLS `yaml:"tls"`
}

// TLS configures TLS termination.
type TLS struct {
	// Listen is the TLS address. Default ":8443".
	Listen string `yaml:"listen"`
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string `yaml:"min_version"`
	// Certificates are chosen by SNI: the first whose names match the
	// client's server name; the first one when none match. At least one.
	Certificates []Certificate `yaml:"certificates"`
	// RedirectHTTP makes the plain listener answer 308 to https.
	RedirectHTTP bool `yaml:"redirect_http"`
}

// Certificate is a PEM certificate chain and its private key.
type Certificate struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Admin is the operator's listener: /metrics, /healthz, /readyz.
type Admin struct {
	// Listen defaults to "127.0.0.1:9901"; flag -admin, env GATEWAY_ADMIN.
	// An empty string after defaults ("off") disables the listener.
	Listen string `yaml:"listen"`
}

// Redis configures the shared state store. No addrs: embedded mode.
type Redis struct {
	// Addrs: one address, or several for a Redis Cluster. Flag -redis, env
	// GATEWAY_REDIS (comma separated).
	Addrs []string `yaml:"addrs"`
	// PasswordEnv names the env var holding the password.
	PasswordEnv string `yaml:"password_env"`
	// ClientCacheTTL bounds client-side caching of look-ups. Default 30s.
	ClientCacheTTL Duration `yaml:"client_cache_ttl"`
	// OnError is fail_open (default) or fail_closed.
	OnError string `yaml:"on_error"`
	// Timeout bounds how long a rate-limit decision in redis mode waits
	// for Redis before on_error decides it: short enough that a slow
	// Redis does not stall requests, long enough that a loaded one is
	// not taken for a down one (each such decision is local, so strict
	// limits loosen while it lasts). Default 50ms.
	Timeout Duration `yaml:"timeout"`
}

// Logging configures the process log and the access log.
type Logging struct {
	// Level is debug, info (default), warn or error; flag -log-level, env
	// GATEWAY_LOG_LEVEL.
	Level string `yaml:"level"`
	// AccessLog is stdout (default), stderr, off, or a file path.
	AccessLog string `yaml:"access_log"`
}

// Auth configures the credential checks routes may ask for.
type Auth struct {
	JWT           *JWT           `yaml:"jwt"`
	APIKeys       *APIKeys       `yaml:"api_keys"`
	Introspection *Introspection `yaml:"introspection"`
}

// IntrospectionClaims is the claim-to-header mapping of introspected
// tokens: auth.introspection.claims_to_headers, or when that is absent
// auth.jwt.claims_to_headers, so that one mapping serves both kinds of
// token.
func (a *Auth) IntrospectionClaims() map[string]string {
	switch {
	case a.Introspection == nil:
		return nil
	case a.Introspection.ClaimsToHeaders == nil && a.JWT != nil:
		return a.JWT.ClaimsToHeaders
	}
	return a.Introspection.ClaimsToHeaders
}

// JWT configures bearer-token verification.
type JWT struct {
	Issuer    string   `yaml:"issuer"`
	Audiences []string `yaml:"audiences"`
	// Leeway is the clock skew allowed on exp and nbf. Default 0.
	Leeway Duration `yaml:"leeway"`
	// Algorithms is the allow-list; "none" is never allowed.
	Algorithms      []string          `yaml:"algorithms"`
	Keys            []JWTKey          `yaml:"keys"`
	JWKS            *JWKS             `yaml:"jwks"`
	ClaimsToHeaders map[string]string `yaml:"claims_to_headers"`
	// CacheEntries bounds the verified-token cache. Default 100000.
	CacheEntries int `yaml:"cache_entries"`
}

// JWTKey is one verification key: an HMAC secret (from env or file) or a
// PEM public key.
type JWTKey struct {
	Kid        string `yaml:"kid"`
	Alg        string `yaml:"alg"`
	SecretEnv  string `yaml:"secret_env"`
	SecretFile string `yaml:"secret_file"`
	PEMFile    string `yaml:"pem_file"`
}

// JWKS is a key set read from a file or URL every Refresh (default 5m).
type JWKS struct {
	URL     string   `yaml:"url"`
	File    string   `yaml:"file"`
	Refresh Duration `yaml:"refresh"`
	// UnknownKidCooldown is how long after a re-read caused by a token
	// with an unknown kid further unknown kids are refused without one:
	// an issuer's new key is picked up at once, and a flood of made-up
	// kids costs the issuer one request per cooldown. Default 5s.
	UnknownKidCooldown Duration `yaml:"unknown_kid_cooldown"`
}

// APIKeys configures API key look-ups.
type APIKeys struct {
	// Header defaults to X-API-Key.
	Header string `yaml:"header"`
	// Source is redis or file (embedded mode). Default: redis when Redis is
	// configured, else file.
	Source string `yaml:"source"`
	// File holds SHA-256 hashes only, never raw keys.
	File string `yaml:"file"`
}

// Introspection configures RFC 7662 token introspection.
type Introspection struct {
	URL             string `yaml:"url"`
	ClientID        string `yaml:"client_id"`
	ClientSecretEnv string `yaml:"client_secret_env"`
	// NegativeCache is how long an inactive token is remembered. Default 5s.
	NegativeCache Duration `yaml:"negative_cache"`
	// CacheEntries bounds the active tokens remembered, and separately the
	// inactive ones, so bogus tokens cannot evict good ones. Default 10000.
	CacheEntries int `yaml:"cache_entries"`
	// ClaimsToHeaders maps fields of the introspection answer to upstream
	// headers. Default: auth.jwt.claims_to_headers, when there is one.
	ClaimsToHeaders map[string]string `yaml:"claims_to_headers"`
}

// Service is a named pool of backend instances.
type Service struct {
	// Instances are host:port addresses; either these or Discovery.
	Instances []string   `yaml:"instances"`
	Discovery *Discovery `yaml:"discovery"`
	// Balancer is least_conn (default), round_robin or consistent_hash.
	Balancer string `yaml:"balancer"`
	// HashOn is the consistent_hash key: header:NAME, cookie:NAME or ip.
	HashOn string `yaml:"hash_on"`
	// Timeout bounds one upstream exchange. Default 30s.
	Timeout Duration `yaml:"timeout"`
	// MaxConnsPerInstance bounds connections to one instance. Default 1024.
	MaxConnsPerInstance int `yaml:"max_conns_per_instance"`
	// MaxResponseBytes bounds a buffered response body; larger is 502.
	// Default 67108864 (64 MiB).
	MaxResponseBytes int `yaml:"max_response_bytes"`
	// IdleConnTimeout closes pooled upstream connections idle this long;
	// keep it below the backends' own keep-alive timeout. Default 4s.
	IdleConnTimeout Duration `yaml:"idle_conn_timeout"`
	// Retries on another instance, idempotent methods only. Default 0.
	Retries        int             `yaml:"retries"`
	HealthCheck    *HealthCheck    `yaml:"health_check"`
	CircuitBreaker *CircuitBreaker `yaml:"circuit_breaker"`
}

// Discovery re-resolves a DNS name every Refresh (default 5s).
type Discovery struct {
	// DNS is an SRV name (_service._proto.domain), whose records bring
	// ports and weights, or host:port for A/AAAA records.
	DNS     string   `yaml:"dns"`
	Refresh Duration `yaml:"refresh"`
	// Resolver is the host:port of the DNS server to ask (a Consul agent's
	// 127.0.0.1:8600, say). Default: the system's resolvers.
	Resolver string `yaml:"resolver"`
}

// HealthCheck configures active health checks.
type HealthCheck struct {
	Path               string   `yaml:"path"`
	Interval           Duration `yaml:"interval"`
	Timeout            Duration `yaml:"timeout"`
	UnhealthyThreshold int      `yaml:"unhealthy_threshold"`
	HealthyThreshold   int      `yaml:"healthy_threshold"`
}

// CircuitBreaker configures a service's circuit.
type CircuitBreaker struct {
	Window      Duration `yaml:"window"`
	MinRequests int      `yaml:"min_requests"`
	ErrorRate   float64  `yaml:"error_rate"`
	// OpenFor is how long the circuit stays open. Default 30s.
	OpenFor Duration `yaml:"open_for"`
}

// RateLimit is a named rate-limit policy.
type RateLimit struct {
	// Key is api_key, user, ip or header:NAME.
	Key string `yaml:"key"`
	// Algorithm is token_bucket (default) or sliding_window.
	Algorithm string   `yaml:"algorithm"`
	Limit     int      `yaml:"limit"`
	Window    Duration `yaml:"window"`
	// Mode is local, redis or hybrid. Default: redis when Redis is
	// configured, else local.
	Mode string `yaml:"mode"`
	// SyncInterval is the hybrid sync period. Default 100ms.
	SyncInterval Duration `yaml:"sync_interval"`
	// MaxKeys bounds the keys each of the policy's in-memory tables
	// tracks; a full table evicts a key not used recently. Default 1000000.
	MaxKeys int `yaml:"max_keys"`
}

// Route maps matching requests to a service (or an aggregate).
type Route struct {
	Name            string      `yaml:"name"`
	Match           Match       `yaml:"match"`
	Rewrite         string      `yaml:"rewrite"`
	Service         string      `yaml:"service"`
	Split           []Split     `yaml:"split"`
	Auth            []string    `yaml:"auth"`
	RateLimit       []string    `yaml:"rate_limit"`
	RequestHeaders  HeaderRules `yaml:"request_headers"`
	ResponseHeaders HeaderRules `yaml:"response_headers"`
	// Timeout overrides the service's timeout for this route.
	Timeout   Duration   `yaml:"timeout"`
	Compress  bool       `yaml:"compress"`
	Cache     *Cache     `yaml:"cache"`
	Aggregate *Aggregate `yaml:"aggregate"`
}

// Match holds a route's predicates; all given ones must hold.
type Match struct {
	// Path is a pattern of static segments, {param} and a final {rest...}.
	Path string `yaml:"path"`
	// Methods: empty means GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS.
	// GET implies HEAD.
	Methods []string `yaml:"methods"`
	// Host is compared case-insensitively, without the port.
	Host string `yaml:"host"`
	// Headers and Query must carry exactly these values.
	Headers map[string]string `yaml:"headers"`
	Query   map[string]string `yaml:"query"`
}

// Split sends Weight percent of a route's traffic to Service.
type Split struct {
	Service string `yaml:"service"`
	Weight  int    `yaml:"weight"`
	// HashOn keeps one client on one side: header:NAME, cookie:NAME or ip.
	HashOn string `yaml:"hash_on"`
}

// HeaderRules sets and removes headers.
type HeaderRules struct {
	Set    map[string]string `yaml:"set"`
	Remove []string          `yaml:"remove"`
}

// Cache configures a route's response cache.
type Cache struct {
	TTL  Duration `yaml:"ttl"`
	Vary []string `yaml:"vary"`
}

// Aggregate fans one request out to several calls.
type Aggregate struct {
	Timeout Duration `yaml:"timeout"`
	// Calls keep the order of the file: it is the order of the result keys.
	Calls []AggregateCall `yaml:"calls"`
}

// AggregateCall is one call of an aggregate, named by its key in the file.
type AggregateCall struct {
	Name    string `yaml:"-"`
	Service string `yaml:"service"`
	Path    string `yaml:"path"`
}
