package config

import (
	"net"
	"strings"
)

var (
	hashOnWords   = []string{"ip"}
	hashOnPrefix  = []string{"header", "cookie"}
	limitKeyWords = []string{"api_key", "user", "ip"}
	headerPrefix  = []string{"header"}
)

func (v *validator) services() {
	for _, name := range sortedKeys(v.c.Services) {
		p := keyPath("services", name)
		s := v.c.Services[name]
		if s == nil {
			v.add(p, "needs instances or discovery")
			continue
		}
		v.service(p, s)
	}
}

func (v *validator) service(p string, s *Service) {
	switch {
	case len(s.Instances) > 0 && s.Discovery != nil:
		v.add(p, "set either instances or discovery, not both")
	case len(s.Instances) == 0 && s.Discovery == nil:
		v.add(p, "needs instances or discovery")
	}
	seen := make(map[string]int, len(s.Instances))
	for i, addr := range s.Instances {
		ip := indexPath(p+".instances", i)
		v.hostPort(ip, addr)
		if first, dup := seen[addr]; dup {
			v.add(ip, "duplicate instance %q (first at %s)", addr, indexPath(p+".instances", first))
		} else {
			seen[addr] = i
		}
	}
	if d := s.Discovery; d != nil {
		v.discoveryName(p+".discovery.dns", d.DNS)
		v.positive(p+".discovery.refresh", d.Refresh)
		if d.Resolver != "" {
			v.hostPort(p+".discovery.resolver", d.Resolver)
		}
	}
	v.enum(p+".balancer", s.Balancer, "least_conn", "round_robin", "consistent_hash")
	if s.HashOn != "" {
		v.selector(p+".hash_on", s.HashOn, hashOnWords, hashOnPrefix)
	} else if s.Balancer == "consistent_hash" {
		v.add(p+".hash_on", "required when balancer is consistent_hash (header:NAME, cookie:NAME or ip)")
	}
	v.positive(p+".timeout", s.Timeout)
	v.positiveInt(p+".max_conns_per_instance", s.MaxConnsPerInstance)
	v.positiveInt(p+".max_response_bytes", s.MaxResponseBytes)
	v.positive(p+".idle_conn_timeout", s.IdleConnTimeout)
	if s.Retries < 0 {
		v.add(p+".retries", "must not be negative, got %d", s.Retries)
	}
	if h := s.HealthCheck; h != nil {
		hp := p + ".health_check"
		if !strings.HasPrefix(h.Path, "/") {
			v.add(hp+".path", "must start with /, got %q", h.Path)
		}
		v.positive(hp+".interval", h.Interval)
		v.positive(hp+".timeout", h.Timeout)
		if h.Interval > 0 && h.Timeout > h.Interval {
			v.add(hp+".timeout", "must not exceed interval (%s)", h.Interval.D())
		}
		v.positiveInt(hp+".unhealthy_threshold", h.UnhealthyThreshold)
		v.positiveInt(hp+".healthy_threshold", h.HealthyThreshold)
	}
	if b := s.CircuitBreaker; b != nil {
		cp := p + ".circuit_breaker"
		v.positive(cp+".window", b.Window)
		v.positiveInt(cp+".min_requests", b.MinRequests)
		if !(b.ErrorRate > 0 && b.ErrorRate <= 1) {
			v.add(cp+".error_rate", "must be above 0 and at most 1, got %g", b.ErrorRate)
		}
		v.positive(cp+".open_for", b.OpenFor)
	}
}

// discoveryName checks a DNS name to resolve: an SRV name, which brings
// its ports, or host:port for A/AAAA records.
func (v *validator) discoveryName(path, name string) {
	if name == "" {
		v.add(path, "required (an SRV name such as _users._tcp.example.internal, or host:port)")
		return
	}
	if strings.HasPrefix(name, "_") {
		if strings.Contains(name, "..") || strings.ContainsAny(name, ": /") {
			v.add(path, "invalid SRV name %q", name)
		}
		return
	}
	if host, port, err := net.SplitHostPort(name); err != nil || host == "" || !validPort(port, false) {
		v.add(path, "want an SRV name (_service._proto.domain) or host:port, got %q", name)
	}
}

func (v *validator) rateLimits() {
	for _, name := range sortedKeys(v.c.RateLimits) {
		p := keyPath("rate_limits", name)
		r := v.c.RateLimits[name]
		if r == nil {
			v.add(p, "needs key, limit and window")
			continue
		}
		v.selector(p+".key", r.Key, limitKeyWords, headerPrefix)
		v.enum(p+".algorithm", r.Algorithm, "token_bucket", "sliding_window")
		v.positiveInt(p+".limit", r.Limit)
		v.positive(p+".window", r.Window)
		v.enum(p+".mode", r.Mode, "local", "redis", "hybrid")
		if (r.Mode == "redis" || r.Mode == "hybrid") && !v.redisConfigured() {
			v.add(p+".mode", "%s needs redis.addrs", r.Mode)
		}
		v.positive(p+".sync_interval", r.SyncInterval)
		v.positiveInt(p+".max_keys", r.MaxKeys)
	}
}
