package edge

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/edgegate/gateway/edge/aggregate"
	"github.com/edgegate/gateway/edge/compress"
	"github.com/edgegate/gateway/edge/config"
	"github.com/edgegate/gateway/edge/metrics"
	"github.com/edgegate/gateway/edge/respcache"
	"github.com/edgegate/gateway/edge/route"
	"github.com/edgegate/gateway/pool"
)

// compiled is one configuration made ready to serve: the route table,
// each route's pipeline and the upstream pools. It never changes after
// compile returns; a reload builds a new one and swaps one pointer, while
// requests that started on the old one finish on it.
type compiled struct {
	cfg      *config.Config
	table    *route.Table
	routes   []*compiledRoute // by spec index in table
	services map[string]*pool.Service
	// identity is every header name a backend trusts to carry verified
	// identity; client-sent copies are removed on every route.
	identity headerSet
	// claimHeaders maps each claim of claims_to_headers to its header
	// name, for aggregate call templates.
	claimHeaders map[string][]byte
	// noRoute records requests that matched no route.
	noRoute *metrics.Route
	// parts are the stateful components this configuration uses: the
	// Redis connection, verifiers, limiters, the response cache. Several
	// configurations may share them across reloads (see parts.go).
	parts *parts
}

// compiledRoute is a route's request pipeline, decided once per config so
// that the request path holds no configuration branches it does not need:
// each optional stage is a nil pointer on routes that do not use it.
type compiledRoute struct {
	name    string
	service *pool.Service
	// timeout bounds the upstream exchange: the route's, else the
	// service's.
	timeout    time.Duration
	rewrite    route.Template
	hasRewrite bool
	reqRules   headerRules
	respRules  headerRules
	auth       *authStage
	limits     *limitStage
	split      *split
	aggregate  *aggregate.Plan
	cache      *routeCache
	compress   *compress.Compressor
	metrics    *metrics.Route
}

// compileOptions carries what compile needs besides the configuration.
type compileOptions struct {
	log     *zap.Logger
	metrics *metrics.Registry
	// dial, when set, replaces TCP for upstream connections (benchmarks).
	dial fasthttp.DialFunc
	// getenv reads secrets named in the file. Default os.Getenv.
	getenv func(string) string
	// prev is the configuration being replaced, whose stateful parts are
	// reused where the new file leaves their settings alone.
	prev *compiled
	// dryRun compiles and checks without starting anything that connects
	// or runs in the background: `gateway check`.
	dryRun bool
}

// compile builds a serving configuration. Errors carry the key path of
// the setting at fault, all of them at once.
func compile(cfg *config.Config, o compileOptions) (_ *compiled, err error) {
	c := &compiled{
		cfg:      cfg,
		services: make(map[string]*pool.Service, len(cfg.Services)),
		noRoute:  o.metrics.Route("", ""),
	}
	var prevParts *parts
	if o.prev != nil {
		prevParts = o.prev.parts
	}
	c.parts, err = buildParts(cfg, o, prevParts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.close(prevParts)
		}
	}()

	var errs config.Errors
	for _, name := range sortedKeys(cfg.Services) {
		svc, err := pool.New(poolOptions(cfg, name, o))
		if err != nil {
			errs = append(errs, config.Error{Path: "services." + name, Msg: err.Error()})
			continue
		}
		c.services[name] = svc
	}

	// Every header a claim may set is an identity header: client-sent
	// copies are removed on every route. Validation made each claim map
	// to one header across both mappings; an introspection section
	// without a mapping of its own uses the JWT's, listed already.
	identity := append([]string(nil), defaultIdentityHeaders...)
	c.claimHeaders = make(map[string][]byte)
	var mappings []map[string]string
	if cfg.Auth.JWT != nil {
		mappings = append(mappings, cfg.Auth.JWT.ClaimsToHeaders)
	}
	if i := cfg.Auth.Introspection; i != nil && i.ClaimsToHeaders != nil {
		mappings = append(mappings, i.ClaimsToHeaders)
	}
	for _, m := range mappings {
		for _, claim := range sortedKeys(m) {
			identity = append(identity, m[claim])
			c.claimHeaders[claim] = []byte(m[claim])
		}
	}
	c.identity = newHeaderSet(identity)

	specs := make([]route.Spec, len(cfg.Routes))
	for i, r := range cfg.Routes {
		methods, err := route.MethodsOf(r.Match.Methods)
		if err != nil {
			errs = append(errs, config.Error{Path: fmt.Sprintf("routes[%d].match.methods", i), Msg: err.Error()})
		}
		specs[i] = route.Spec{
			Path:    r.Match.Path,
			Methods: methods,
			Host:    r.Match.Host,
			Headers: r.Match.Headers,
			Query:   r.Match.Query,
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	table, err := route.Compile(specs)
	if err != nil {
		return nil, config.Errors{routeSpecError(err)}
	}
	c.table = table

	for i, r := range cfg.Routes {
		cr, routeErrs := c.compileRoute(i, r, o)
		errs = append(errs, routeErrs...)
		c.routes = append(c.routes, cr)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// compileRoute builds one route's pipeline.
func (c *compiled) compileRoute(i int, r *config.Route, o compileOptions) (*compiledRoute, config.Errors) {
	var errs config.Errors
	at := func(key string, err error) {
		errs = append(errs, config.Error{Path: fmt.Sprintf("routes[%d].%s", i, key), Msg: err.Error()})
	}
	cfg := c.cfg
	cr := &compiledRoute{
		name:      r.Name,
		reqRules:  newHeaderRules(r.RequestHeaders.Set, r.RequestHeaders.Remove),
		respRules: newHeaderRules(r.ResponseHeaders.Set, r.ResponseHeaders.Remove),
		metrics:   o.metrics.Route(r.Name, r.Service),
	}
	if svc := c.services[r.Service]; svc != nil {
		cr.service = svc
		cr.timeout = cfg.Services[r.Service].Timeout.D()
	}
	if r.Timeout > 0 {
		cr.timeout = r.Timeout.D()
	}
	if r.Rewrite != "" {
		tmpl, err := route.CompileTemplate(r.Rewrite, c.table.ParamNames(i))
		if err != nil {
			at("rewrite", err)
		}
		if _, ok := normalizePath(nil, []byte(r.Rewrite)); !ok {
			at("rewrite", errors.New("malformed percent-encoding"))
		}
		cr.rewrite, cr.hasRewrite = tmpl, true
	}
	if len(r.Auth) > 0 {
		cr.auth = c.parts.authStage(r, o.metrics)
	}
	if len(r.RateLimit) > 0 {
		cr.limits = c.parts.limitStage(r, cfg)
	}
	if len(r.Split) > 0 && cr.service != nil {
		s, err := c.compileSplit(cr.service, r.Split)
		if err != nil {
			at("split", err)
		}
		cr.split = s
	}
	if a := r.Aggregate; a != nil {
		specs := make([]aggregate.CallSpec, len(a.Calls))
		for j, call := range a.Calls {
			specs[j] = aggregate.CallSpec{Name: call.Name, Service: c.services[call.Service], Path: call.Path}
		}
		plan, err := aggregate.Compile(specs, a.Timeout.D(), c.table.ParamNames(i))
		if err != nil {
			at("aggregate", err)
		}
		cr.aggregate = plan
		cr.timeout = a.Timeout.D()
	}
	if r.Cache != nil {
		rule, err := respcache.NewRule(r.Name, r.Cache.TTL.D(), r.Cache.Vary)
		if err != nil {
			at("cache", err)
		}
		cr.cache = &routeCache{rule: rule, cache: c.parts.cache}
	}
	if r.Compress {
		cr.compress = c.parts.compressor
	}
	return cr, errs
}

// poolOptions maps a service's settings to its pool.
func poolOptions(cfg *config.Config, name string, o compileOptions) pool.Options {
	s := cfg.Services[name]
	po := pool.Options{
		Name:                name,
		Instances:           s.Instances,
		Balancer:            s.Balancer,
		HashOn:              s.HashOn,
		Retries:             s.Retries,
		Timeout:             longestTimeout(cfg, name),
		MaxConnsPerInstance: s.MaxConnsPerInstance,
		MaxResponseBytes:    s.MaxResponseBytes,
		IdleConnTimeout:     s.IdleConnTimeout.D(),
		ReadBufferSize:      cfg.Server.MaxHeaderBytes,
		Dial:                o.dial,
		Log:                 o.log.With(zap.String("service", name)),
	}
	if o.dryRun {
		// Checking a file must not resolve names or probe backends.
		return po
	}
	if h := s.HealthCheck; h != nil {
		po.HealthCheck = &pool.HealthCheck{
			Path:               h.Path,
			Interval:           h.Interval.D(),
			Timeout:            h.Timeout.D(),
			UnhealthyThreshold: h.UnhealthyThreshold,
			HealthyThreshold:   h.HealthyThreshold,
		}
	}
	if b := s.CircuitBreaker; b != nil {
		po.CircuitBreaker = &pool.CircuitBreaker{
			Window:      b.Window.D(),
			MinRequests: b.MinRequests,
			ErrorRate:   b.ErrorRate,
			OpenFor:     b.OpenFor.D(),
		}
	}
	if d := s.Discovery; d != nil {
		po.Discovery = &pool.Discovery{Name: d.DNS, Refresh: d.Refresh.D(), Resolver: d.Resolver}
	}
	return po
}

// compileSplit builds a route's canary from its split entries. The first
// entry's hash_on, if any, makes the whole split sticky.
func (c *compiled) compileSplit(main *pool.Service, entries []config.Split) (*split, error) {
	s := &split{main: main}
	var total uint64
	for _, e := range entries {
		total += uint64(e.Weight)
		s.arms = append(s.arms, splitArm{service: c.services[e.Service], upTo: total})
		if e.HashOn != "" && !s.sticky {
			h, err := pool.ParseHashOn(e.HashOn)
			if err != nil {
				return nil, err
			}
			s.hashOn, s.sticky = h, true
		}
	}
	return s, nil
}

// routeSpecError names the key of the route setting the table refused.
func routeSpecError(err error) config.Error {
	var se *route.SpecError
	if !errors.As(err, &se) {
		return config.Error{Path: "routes", Msg: err.Error()}
	}
	path := fmt.Sprintf("routes[%d].match", se.Index)
	if se.Field != "" {
		path += "." + se.Field
	}
	return config.Error{Path: path, Msg: se.Err.Error()}
}

// longestTimeout is the bound a service's connections need: its own
// timeout, or a longer one that a route using it asks for. Each request
// still carries its own, shorter, deadline.
func longestTimeout(cfg *config.Config, service string) time.Duration {
	d := cfg.Services[service].Timeout.D()
	for _, r := range cfg.Routes {
		if r.Service == service {
			d = max(d, r.Timeout.D())
		}
	}
	return d
}

// close stops the pools' background work and releases their idle
// connections, and closes the stateful parts that next does not reuse.
// Requests still running on them finish normally.
func (c *compiled) close(next *parts) {
	for _, s := range c.services {
		s.Close()
	}
	if c.parts != nil {
		c.parts.closeUnused(next)
	}
}

// baseDir is the directory relative file names of cfg are resolved in.
func baseDir(cfg *config.Config) string {
	if cfg.Path == "" {
		return "."
	}
	return filepath.Dir(cfg.Path)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
