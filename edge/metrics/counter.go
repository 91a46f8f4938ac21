package metrics

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Counters is a family of counters sharing a name and label names, such as
// gateway_auth_total{kind,result}. Series are created when a configuration
// is compiled, never per request, and live as long as the registry, so a
// reload keeps counting.
type Counters struct {
	name, help string
	labels     []string

	mu     sync.Mutex
	series map[string]*Counter
}

// Counter is one series of a family. Inc and Add are an atomic add.
type Counter struct {
	values []string
	n      atomic.Uint64
}

// Inc adds one.
func (c *Counter) Inc() { c.n.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.n.Add(n) }

// Value returns the count.
func (c *Counter) Value() uint64 { return c.n.Load() }

// Counters returns the family of that name, creating it on first use. The
// help text and label names of the first call stand.
func (r *Registry) Counters(name, help string, labels ...string) *Counters {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.families == nil {
		r.families = make(map[string]*Counters)
	}
	f := r.families[name]
	if f == nil {
		f = &Counters{name: name, help: help, labels: labels, series: make(map[string]*Counter)}
		r.families[name] = f
	}
	return f
}

// With returns the series for the label values, in the order of the label
// names, creating it on first use.
func (f *Counters) With(values ...string) *Counter {
	if len(values) != len(f.labels) {
		panic("metrics: " + f.name + ": want values for " + strings.Join(f.labels, ", "))
	}
	k := strings.Join(values, "\xff")
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.series[k]
	if c == nil {
		c = &Counter{values: append([]string(nil), values...)}
		f.series[k] = c
	}
	return c
}

func (f *Counters) write(w *Writer) {
	f.mu.Lock()
	keys := make([]string, 0, len(f.series))
	for k := range f.series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	series := make([]*Counter, len(keys))
	for i, k := range keys {
		series[i] = f.series[k]
	}
	f.mu.Unlock()

	w.Help(f.name, "counter", f.help)
	labels := make([]string, 2*len(f.labels))
	for _, c := range series {
		for i, name := range f.labels {
			labels[2*i], labels[2*i+1] = name, c.values[i]
		}
		w.Sample(f.name, float64(c.Value()), labels...)
	}
}
