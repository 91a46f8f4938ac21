package metrics

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Registry holds every series. Safe for concurrent use.
type Registry struct {
	mu     sync.Mutex
	routes map[routeKey]*Route

	// Reloads counts configuration reloads by outcome.
	ReloadsOK, ReloadsFailed atomic.Uint64

	// collectors add series owned by other packages (upstream pools, the
	// server's connection count) at scrape time.
	collectors []func(w *Writer)

	// families are the labelled counters other packages declare.
	families map[string]*Counters
}

type routeKey struct{ route, service string }

// New returns an empty registry.
func New() *Registry {
	return &Registry{routes: make(map[routeKey]*Route)}
}

// Route holds one route's series. A request records into it with Observe.
type Route struct {
	name, service string
	// byClass counts responses by status class: index 1 for 1xx … 5 for 5xx.
	byClass [6]atomic.Uint64
	latency Histogram
}

// Route returns the series for a route and service, creating them on first
// use. The same pointer comes back for the same names, so a reloaded
// configuration keeps counting where the old one stopped.
func (r *Registry) Route(route, service string) *Route {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := routeKey{route, service}
	m := r.routes[k]
	if m == nil {
		m = &Route{name: route, service: service}
		r.routes[k] = m
	}
	return m
}

// Observe records one finished request.
func (m *Route) Observe(status int, d time.Duration) {
	class := status / 100
	if class < 1 || class > 5 {
		class = 5
	}
	m.byClass[class].Add(1)
	m.latency.Observe(d)
}

// Count returns how many responses of a status class (1-5) were recorded.
func (m *Route) Count(class int) uint64 { return m.byClass[class].Load() }

// AddCollector registers f to write extra series on every scrape.
func (r *Registry) AddCollector(f func(w *Writer)) {
	r.mu.Lock()
	r.collectors = append(r.collectors, f)
	r.mu.Unlock()
}

func (r *Registry) sortedFamilies() []*Counters {
	r.mu.Lock()
	families := make([]*Counters, 0, len(r.families))
	for _, f := range r.families {
		families = append(families, f)
	}
	r.mu.Unlock()
	sort.Slice(families, func(i, j int) bool { return families[i].name < families[j].name })
	return families
}

func (r *Registry) sortedRoutes() []*Route {
	r.mu.Lock()
	routes := make([]*Route, 0, len(r.routes))
	for _, m := range r.routes {
		routes = append(routes, m)
	}
	r.mu.Unlock()
	sort.Slice(routes, func(i, j int) bool {
		if routes[i].name != routes[j].name {
			return routes[i].name < routes[j].name
		}
		return routes[i].service < routes[j].service
	})
	return routes
}
