package edge

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/edgegate/gateway/edge/config"
	"github.com/edgegate/gateway/edge/metrics"
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
	// noRoute records requests that matched no route.
	noRoute *metrics.Route
}

// compiledRoute is a route's request pipeline, decided once per config so
// that the request path holds no configuration branches it does not need.
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
	// authRequired marks routes that name credential checks. Until a
	// route's checks are compiled in, such a route refuses every request
	// rather than serve it unauthenticated.
	authRequired bool
	// notServed is set for route kinds this build cannot serve yet
	// (aggregates); such a route answers 502 instead of guessing.
	notServed bool
	metrics   *metrics.Route
}

// compileOptions carries what compile needs besides the configuration.
type compileOptions struct {
	log     *zap.Logger
	metrics *metrics.Registry
	// dial, when set, replaces TCP for upstream connections (benchmarks).
	dial fasthttp.DialFunc
}

// compile builds a serving configuration. Errors carry the key path of
// the setting at fault, all of them at once.
func compile(cfg *config.Config, o compileOptions) (*compiled, error) {
	var errs config.Errors
	c := &compiled{
		cfg:      cfg,
		services: make(map[string]*pool.Service, len(cfg.Services)),
		noRoute:  o.metrics.Route("", ""),
	}

	for _, name := range sortedKeys(cfg.Services) {
		s := cfg.Services[name]
		if s.Discovery != nil {
			o.log.Warn("service discovery is not available in this build; the service has no instances",
				zap.String("service", name))
		}
		balancer := s.Balancer
		if balancer == "consistent_hash" {
			o.log.Warn("consistent_hash balancing is not available in this build; using least_conn",
				zap.String("service", name))
			balancer = pool.BalancerLeastConn
		}
		svc, err := pool.New(pool.Options{
			Name:                name,
			Instances:           s.Instances,
			Balancer:            balancer,
			Timeout:             longestTimeout(cfg, name),
			MaxConnsPerInstance: s.MaxConnsPerInstance,
			MaxResponseBytes:    s.MaxResponseBytes,
			IdleConnTimeout:     s.IdleConnTimeout.D(),
			ReadBufferSize:      cfg.Server.MaxHeaderBytes,
			Dial:                o.dial,
		})
		if err != nil {
			errs = append(errs, config.Error{Path: "services." + name, Msg: err.Error()})
			continue
		}
		c.services[name] = svc
	}

	identity := append([]string(nil), defaultIdentityHeaders...)
	if cfg.Auth.JWT != nil {
		for _, claim := range sortedKeys(cfg.Auth.JWT.ClaimsToHeaders) {
			identity = append(identity, cfg.Auth.JWT.ClaimsToHeaders[claim])
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
		c.close()
		return nil, errs
	}
	table, err := route.Compile(specs)
	if err != nil {
		c.close()
		return nil, config.Errors{routeSpecError(err)}
	}
	c.table = table

	for i, r := range cfg.Routes {
		cr := &compiledRoute{
			name:         r.Name,
			reqRules:     newHeaderRules(r.RequestHeaders.Set, r.RequestHeaders.Remove),
			respRules:    newHeaderRules(r.ResponseHeaders.Set, r.ResponseHeaders.Remove),
			authRequired: len(r.Auth) > 0,
			notServed:    r.Aggregate != nil,
		}
		if svc := c.services[r.Service]; svc != nil {
			cr.service = svc
			cr.timeout = cfg.Services[r.Service].Timeout.D()
		}
		if r.Timeout > 0 {
			cr.timeout = r.Timeout.D()
		}
		if r.Rewrite != "" {
			tmpl, err := route.CompileTemplate(r.Rewrite, table.ParamNames(i))
			if err != nil {
				errs = append(errs, config.Error{Path: fmt.Sprintf("routes[%d].rewrite", i), Msg: err.Error()})
			}
			cr.rewrite, cr.hasRewrite = tmpl, true
		}
		cr.metrics = o.metrics.Route(r.Name, r.Service)
		c.routes = append(c.routes, cr)
		warnUnserved(o.log, r)
	}
	if len(errs) > 0 {
		c.close()
		return nil, errs
	}
	return c, nil
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

// warnUnserved says at load time which accepted settings of a route this
// build does not act on, so that nobody believes a limit is enforced.
func warnUnserved(log *zap.Logger, r *config.Route) {
	var keys []string
	if len(r.Auth) > 0 {
		keys = append(keys, "auth (requests are refused with 401)")
	}
	if len(r.RateLimit) > 0 {
		keys = append(keys, "rate_limit")
	}
	if len(r.Split) > 0 {
		keys = append(keys, "split")
	}
	if r.Cache != nil {
		keys = append(keys, "cache")
	}
	if r.Compress {
		keys = append(keys, "compress")
	}
	if r.Aggregate != nil {
		keys = append(keys, "aggregate (requests are answered 502)")
	}
	if len(keys) > 0 {
		log.Warn("route settings not served by this build", zap.String("route", r.Name), zap.Strings("settings", keys))
	}
}

// close releases the pools' idle connections. Requests still running on
// them finish normally.
func (c *compiled) close() {
	for _, s := range c.services {
		s.Close()
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
