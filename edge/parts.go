package edge

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/edgegate/gateway/edge/compress"
	"github.com/edgegate/gateway/edge/config"
	"github.com/edgegate/gateway/edge/metrics"
	"github.com/edgegate/gateway/edge/respcache"
	"github.com/edgegate/gateway/internal/redisconn"
	"github.com/edgegate/gateway/jwtcache"
	"github.com/edgegate/gateway/limiter"
)

// parts are the stateful components of a configuration: the Redis
// connection, the credential verifiers with their token caches, the rate
// limiters with their counts, and the response cache. A reload that leaves
// a component's settings unchanged hands it to the new configuration as it
// is, so that a reload neither forgets verified tokens and cached
// responses nor gives every client a fresh quota.
type parts struct {
	redis    *redisconn.Conn
	redisKey string

	verifiers *jwtcache.Verifiers
	authCfg   config.Auth
	authDir   string
	// apiKeyHeader is where API keys are read from.
	apiKeyHeader []byte

	limiters map[string]*limiterPart

	cache      *respcache.Cache
	cacheBytes int
	compressor *compress.Compressor

	log *zap.Logger
}

type limiterPart struct {
	limiter *limiter.Limiter
	policy  limiter.Policy
	timeout time.Duration
	maxKeys int
}

// buildParts makes the parts of cfg, reusing those of prev (which may be
// nil) whose settings did not change. In a dry run nothing connects or
// starts: settings are only checked.
func buildParts(cfg *config.Config, o compileOptions, prev *parts) (*parts, error) {
	p := &parts{log: o.log, limiters: make(map[string]*limiterPart), compressor: compress.New(compress.Options{})}
	if prev == nil {
		prev = &parts{}
	}
	getenv := o.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	ok := false
	defer func() {
		if !ok {
			p.closeUnused(prev)
		}
	}()

	if len(cfg.Redis.Addrs) > 0 && !o.dryRun {
		password := ""
		if cfg.Redis.PasswordEnv != "" {
			password = getenv(cfg.Redis.PasswordEnv)
		}
		p.redisKey = strings.Join(cfg.Redis.Addrs, ",") + "\x00" + password
		if prev.redis != nil && prev.redisKey == p.redisKey {
			p.redis = prev.redis
		} else {
			conn, err := redisconn.Open(redisconn.Options{Addrs: cfg.Redis.Addrs, Password: password, Log: o.log})
			if err != nil {
				return nil, config.Errors{{Path: "redis.addrs", Msg: err.Error()}}
			}
			p.redis = conn
		}
	}

	var errs config.Errors
	if err := p.buildVerifiers(cfg, o, prev, getenv); err != nil {
		errs = append(errs, config.Error{Path: "auth", Msg: err.Error()})
	}
	for _, name := range sortedKeys(cfg.RateLimits) {
		if err := p.buildLimiter(name, cfg, o, prev); err != nil {
			errs = append(errs, config.Error{Path: "rate_limits." + name, Msg: err.Error()})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	for _, r := range cfg.Routes {
		if r.Cache != nil && p.cache == nil {
			p.cacheBytes = cfg.Server.ResponseCacheBytes
			if prev.cache != nil && prev.redis == p.redis && prev.cacheBytes == p.cacheBytes {
				p.cache = prev.cache
			} else {
				p.cache = respcache.New(respcache.Options{MaxBytes: int64(p.cacheBytes), Redis: p.redis, Log: o.log})
			}
		}
	}
	ok = true
	return p, nil
}

func (p *parts) buildVerifiers(cfg *config.Config, o compileOptions, prev *parts, getenv func(string) string) error {
	a := &cfg.Auth
	if a.APIKeys != nil {
		p.apiKeyHeader = []byte(a.APIKeys.Header)
	} else {
		p.apiKeyHeader = []byte("X-API-Key")
	}
	if a.JWT == nil && a.APIKeys == nil && a.Introspection == nil {
		return nil
	}
	dir := baseDir(cfg)
	opts, err := jwtcache.FromConfig(a, dir, getenv, o.log)
	if err != nil {
		return err
	}
	if o.dryRun {
		return nil
	}
	if prev.verifiers != nil && prev.redis == p.redis && prev.authDir == dir && reflect.DeepEqual(prev.authCfg, *a) {
		p.verifiers, p.authCfg, p.authDir = prev.verifiers, prev.authCfg, dir
		return nil
	}
	opts.UseRedis(p.redis, cfg.Redis.ClientCacheTTL.D())
	if opts.APIKeys != nil && opts.APIKeys.File == "" && p.redis == nil {
		return fmt.Errorf("api_keys.source redis needs redis.addrs")
	}
	v, err := jwtcache.NewVerifiers(opts)
	if err != nil {
		return err
	}
	p.verifiers, p.authCfg, p.authDir = v, *a, dir
	return nil
}

func (p *parts) buildLimiter(name string, cfg *config.Config, o compileOptions, prev *parts) error {
	policy, err := limiter.FromConfig(name, cfg.RateLimits[name], cfg.Redis)
	if err != nil {
		return err
	}
	if o.dryRun {
		return nil
	}
	timeout, maxKeys := cfg.Redis.Timeout.D(), cfg.RateLimits[name].MaxKeys
	if old := prev.limiters[name]; old != nil && old.policy == policy && old.timeout == timeout && old.maxKeys == maxKeys && prev.redis == p.redis {
		p.limiters[name] = old
		return nil
	}
	var conn *redisconn.Conn
	if policy.Mode != limiter.Local {
		conn = p.redis
	}
	l, err := limiter.New(policy, limiter.Options{Redis: conn, MaxKeys: maxKeys, Timeout: timeout, Log: o.log.With(zap.String("rate_limit", name))})
	if err != nil {
		return err
	}
	p.limiters[name] = &limiterPart{limiter: l, policy: policy, timeout: timeout, maxKeys: maxKeys}
	return nil
}

// authStage compiles a route's auth list against the verifiers.
func (p *parts) authStage(r *config.Route, m *metrics.Registry) *authStage {
	a := &authStage{apiKeyHeader: p.apiKeyHeader, counts: newAuthCounts(m, r.Name)}
	a.challenge, a.keyChallenge = challengesFor(r.Auth)
	if p.verifiers == nil {
		// A dry run: the stage is never used.
		return a
	}
	for _, kind := range r.Auth {
		switch kind {
		case "jwt":
			a.jwt = p.verifiers.JWT
		case "api_key":
			a.apiKeys = p.verifiers.APIKeys
		case "introspection":
			a.introspect = p.verifiers.Introspector
		}
	}
	return a
}

// limitStage compiles a route's rate_limit list.
func (p *parts) limitStage(r *config.Route, cfg *config.Config) *limitStage {
	s := &limitStage{}
	for _, name := range r.RateLimit {
		lp := p.limiters[name]
		if lp == nil {
			continue // a dry run
		}
		kind, header := parseLimitKey(cfg.RateLimits[name].Key)
		s.policies = append(s.policies, &policy{name: name, limiter: lp.limiter, kind: kind, header: header})
	}
	return s
}

// closeUnused closes the components of p that next does not hold. Verifiers
// and limiters go before the Redis connection they may use.
func (p *parts) closeUnused(next *parts) {
	if next == nil {
		next = &parts{}
	}
	if p.verifiers != nil && p.verifiers != next.verifiers {
		p.verifiers.Close()
	}
	for name, lp := range p.limiters {
		if next.limiters[name] != lp {
			lp.limiter.Close()
		}
	}
	if p.redis != nil && p.redis != next.redis {
		p.redis.Close()
	}
}

// collect writes the series of the limiters, the response cache and the
// Redis connection at scrape time.
func (p *parts) collect(w *metrics.Writer) {
	names := sortedKeys(p.limiters)
	stats := make([]limiter.Stats, len(names))
	for i, name := range names {
		stats[i] = p.limiters[name].limiter.Stats()
	}
	w.Help("gateway_ratelimit_decisions_total", "counter", "Rate-limit decisions, by policy and decision.")
	for i, name := range names {
		w.Sample("gateway_ratelimit_decisions_total", float64(stats[i].Admitted), "policy", name, "decision", "admitted")
		w.Sample("gateway_ratelimit_decisions_total", float64(stats[i].Limited), "policy", name, "decision", "limited")
		w.Sample("gateway_ratelimit_decisions_total", float64(stats[i].Unavailable), "policy", name, "decision", "unavailable")
	}
	w.Help("gateway_ratelimit_degraded_total", "counter", "Rate-limit decisions taken from local buckets because Redis was unreachable, by policy.")
	for i, name := range names {
		w.Sample("gateway_ratelimit_degraded_total", float64(stats[i].Degraded), "policy", name)
	}
	w.Help("gateway_ratelimit_keys", "gauge", "Keys held in memory by a rate-limit policy.")
	for i, name := range names {
		w.Sample("gateway_ratelimit_keys", float64(stats[i].Keys), "policy", name)
	}
	w.Help("gateway_redis_errors_total", "counter", "Failed Redis calls (errors, timeouts, no connection), by component.")
	for i, name := range names {
		w.Sample("gateway_redis_errors_total", float64(stats[i].RedisErrors), "component", "rate_limit:"+name)
	}
	if p.cache != nil {
		cs := p.cache.Stats()
		w.Sample("gateway_redis_errors_total", float64(cs.RedisErrors), "component", "cache")
		w.Help("gateway_cache_lookups_total", "counter", "Response cache look-ups, by result.")
		for _, s := range []struct {
			result string
			n      uint64
		}{{"hit", cs.Hits}, {"stale", cs.StaleHits}, {"miss", cs.Misses}, {"remote_hit", cs.RemoteHits}, {"shared", cs.Shared}} {
			w.Sample("gateway_cache_lookups_total", float64(s.n), "result", s.result)
		}
		w.Help("gateway_cache_bytes", "gauge", "Bytes held by the response cache.")
		w.Sample("gateway_cache_bytes", float64(cs.Bytes))
		w.Help("gateway_cache_evictions_total", "counter", "Response cache entries evicted to stay within memory.")
		w.Sample("gateway_cache_evictions_total", float64(cs.Evictions))
	}
	if p.redis != nil {
		w.Help("gateway_redis_up", "gauge", "1 when the Redis connection answers PING.")
		w.Sample("gateway_redis_up", bool01(p.redis.Ping(250*time.Millisecond) == nil))
	}
}
