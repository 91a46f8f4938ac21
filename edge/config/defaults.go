package config

import "time"

// The defaults of the settings, as the field comments in types.go state
// them; Defaults is the only place that applies them.
const (
	defaultListen             = ":8080"
	defaultReadTimeout        = 10 * time.Second
	defaultWriteTimeout       = 10 * time.Second
	defaultIdleTimeout        = 60 * time.Second
	defaultMaxHeaderBytes     = 16384
	defaultMaxHeaderCount     = 100
	defaultMaxBodyBytes       = 4 << 20
	defaultMaxConnections     = 100000
	defaultShutdownTimeout    = 30 * time.Second
	defaultResponseCacheBytes = 64 << 20
	defaultTLSListen          = ":8443"
	defaultTLSMinVersion      = "1.2"
	defaultAdminListen        = "127.0.0.1:9901"
	defaultRedisCacheTTL      = 30 * time.Second
	defaultRedisOnError       = "fail_open"
	defaultRedisTimeout       = 50 * time.Millisecond
	defaultLogLevel           = "info"
	defaultAccessLog          = "stdout"
	defaultJWTCacheEntries    = 100000
	defaultJWKSRefresh        = 5 * time.Minute
	defaultUnknownKidCooldown = 5 * time.Second
	defaultAPIKeyHeader       = "X-API-Key"
	defaultNegativeCache      = 5 * time.Second
	defaultIntrospectEntries  = 10000
	defaultBalancer           = "least_conn"
	defaultServiceTimeout     = 30 * time.Second
	defaultMaxConnsPerInst    = 1024
	defaultMaxResponseBytes   = 64 << 20
	defaultIdleConnTimeout    = 4 * time.Second
	defaultDiscoveryRefresh   = 5 * time.Second
	defaultHealthPath         = "/health"
	defaultHealthInterval     = 10 * time.Second
	defaultHealthTimeout      = 2 * time.Second
	defaultHealthyThreshold   = 2
	defaultUnhealthyThreshold = 2
	defaultCircuitWindow      = 10 * time.Second
	defaultCircuitMinRequests = 20
	defaultCircuitErrorRate   = 0.5
	defaultCircuitOpenFor     = 30 * time.Second
	defaultRateAlgorithm      = "token_bucket"
	defaultSyncInterval       = 100 * time.Millisecond
	defaultRateMaxKeys        = 1_000_000
)

// Defaults fills every setting left empty (zero) with its default, and
// turns an admin listen address of "off" into the empty string that
// disables the listener. Parse runs it after decoding; a Config built in
// code should run it before Validate.
//
// Optional blocks (server.tls, auth.jwt, a service's health_check and
// circuit_breaker, ...) are completed only when present: their presence is
// what turns the feature on. Defaults that depend on Redis (api_keys
// source, rate-limit mode) look at redis.addrs, so overrides must be
// applied first. Because "off" becomes "", running Defaults a second time
// would turn a disabled admin listener back on: run it once per Config.
func (c *Config) Defaults() {
	c.Server.defaults()
	if c.Admin.Listen == "" {
		c.Admin.Listen = defaultAdminListen
	} else if c.Admin.Listen == AdminOff {
		c.Admin.Listen = ""
	}
	redis := len(c.Redis.Addrs) > 0
	setDuration(&c.Redis.ClientCacheTTL, defaultRedisCacheTTL)
	setString(&c.Redis.OnError, defaultRedisOnError)
	setDuration(&c.Redis.Timeout, defaultRedisTimeout)
	setString(&c.Logging.Level, defaultLogLevel)
	setString(&c.Logging.AccessLog, defaultAccessLog)
	c.Auth.defaults(redis)
	for _, s := range c.Services {
		if s != nil {
			s.defaults()
		}
	}
	for _, r := range c.RateLimits {
		if r == nil {
			continue
		}
		setString(&r.Algorithm, defaultRateAlgorithm)
		if redis {
			// With Redis configured the gateway runs as several
			// instances, and a local-only limit would multiply by their
			// number: count in Redis unless the file says otherwise.
			setString(&r.Mode, "redis")
		} else {
			setString(&r.Mode, "local")
		}
		setDuration(&r.SyncInterval, defaultSyncInterval)
		setInt(&r.MaxKeys, defaultRateMaxKeys)
	}
}

func (s *Server) defaults() {
	setString(&s.Listen, defaultListen)
	setDuration(&s.ReadTimeout, defaultReadTimeout)
	setDuration(&s.WriteTimeout, defaultWriteTimeout)
	setDuration(&s.IdleTimeout, defaultIdleTimeout)
	setInt(&s.MaxHeaderBytes, defaultMaxHeaderBytes)
	setInt(&s.MaxHeaderCount, defaultMaxHeaderCount)
	setInt(&s.MaxBodyBytes, defaultMaxBodyBytes)
	setInt(&s.MaxConnections, defaultMaxConnections)
	setDuration(&s.ShutdownTimeout, defaultShutdownTimeout)
	setInt(&s.ResponseCacheBytes, defaultResponseCacheBytes)
	if s.TLS != nil {
		setString(&s.TLS.Listen, defaultTLSListen)
		setString(&s.TLS.MinVersion, defaultTLSMinVersion)
	}
}

func (a *Auth) defaults(redis bool) {
	if j := a.JWT; j != nil {
		setInt(&j.CacheEntries, defaultJWTCacheEntries)
		if j.JWKS != nil {
			setDuration(&j.JWKS.Refresh, defaultJWKSRefresh)
			setDuration(&j.JWKS.UnknownKidCooldown, defaultUnknownKidCooldown)
		}
	}
	if k := a.APIKeys; k != nil {
		setString(&k.Header, defaultAPIKeyHeader)
		if redis {
			setString(&k.Source, "redis")
		} else {
			setString(&k.Source, "file")
		}
	}
	if i := a.Introspection; i != nil {
		setDuration(&i.NegativeCache, defaultNegativeCache)
		setInt(&i.CacheEntries, defaultIntrospectEntries)
	}
}

func (s *Service) defaults() {
	setString(&s.Balancer, defaultBalancer)
	setDuration(&s.Timeout, defaultServiceTimeout)
	setInt(&s.MaxConnsPerInstance, defaultMaxConnsPerInst)
	setInt(&s.MaxResponseBytes, defaultMaxResponseBytes)
	setDuration(&s.IdleConnTimeout, defaultIdleConnTimeout)
	if d := s.Discovery; d != nil {
		setDuration(&d.Refresh, defaultDiscoveryRefresh)
	}
	if h := s.HealthCheck; h != nil {
		setString(&h.Path, defaultHealthPath)
		setDuration(&h.Interval, defaultHealthInterval)
		setDuration(&h.Timeout, defaultHealthTimeout)
		setInt(&h.HealthyThreshold, defaultHealthyThreshold)
		setInt(&h.UnhealthyThreshold, defaultUnhealthyThreshold)
	}
	if b := s.CircuitBreaker; b != nil {
		setDuration(&b.Window, defaultCircuitWindow)
		setInt(&b.MinRequests, defaultCircuitMinRequests)
		if b.ErrorRate == 0 {
			b.ErrorRate = defaultCircuitErrorRate
		}
		setDuration(&b.OpenFor, defaultCircuitOpenFor)
	}
}

func setString(p *string, def string) {
	if *p == "" {
		*p = def
	}
}

func setInt(p *int, def int) {
	if *p == 0 {
		*p = def
	}
}

func setDuration(p *Duration, def time.Duration) {
	if *p == 0 {
		*p = Duration(def)
	}
}
