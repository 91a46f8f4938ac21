package route

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Spec is one route's match rule as the configuration states it. All given
// predicates must hold for the route to match.
type Spec struct {
	// Path is the pattern: static segments, {param} segments that each match
	// one non-empty segment, and an optional final {rest...} that matches
	// the rest of the path, slashes included, possibly empty.
	Path string
	// Methods is the set of allowed methods. Zero means DefaultMethods.
	// GET implies HEAD here too.
	Methods Methods
	// Host restricts the route to one host; "" means any. It is compared
	// without the request's port and ignoring case. "*.example.com" matches
	// one or more labels before "example.com", but not "example.com".
	Host string
	// Headers must each be present with exactly this value; names ignore
	// case. A header wanted as "" also matches when it is absent.
	Headers map[string]string
	// Query arguments must each be present with exactly this value; names
	// are case-sensitive. An argument wanted as "" also matches when absent.
	Query map[string]string
}

// ErrDuplicate is wrapped by the error Compile returns when two specs could
// match the same request with the same specificity, so the second could
// never be chosen.
var ErrDuplicate = errors.New("route: duplicate route")

// SpecError is the error Compile returns for a spec it refuses. Index and
// Field let a configuration loader point at "routes[3].match.path".
type SpecError struct {
	// Index is the position of the spec in the list given to Compile.
	Index int
	// Field is the Spec field at fault in configuration terms: "path",
	// "methods", "host", "headers" or "query"; "" for a duplicate.
	Field string
	// Err is the reason; it wraps ErrBadPattern, ErrBadPredicate or
	// ErrDuplicate.
	Err error
}

// Error returns a message such as "route 3: path: ...".
func (e *SpecError) Error() string {
	if e.Field == "" {
		return "route " + strconv.Itoa(e.Index) + ": " + e.Err.Error()
	}
	return "route " + strconv.Itoa(e.Index) + ": " + e.Field + ": " + e.Err.Error()
}

// Unwrap returns the reason, so errors.Is finds the package's sentinels.
func (e *SpecError) Unwrap() error { return e.Err }

// Table is a compiled route table: a tree of path segments whose nodes hold
// the specs ending there, most specific first. It is immutable after Compile
// and safe for concurrent use; a configuration reload compiles a new Table
// and swaps one pointer.
type Table struct {
	root node
	// names holds each spec's parameter names, indexed by spec.
	names [][]string
}

// linearMax is the largest number of static children a node scans linearly.
// With few children, comparing short strings (most fail on length alone)
// beats hashing the segment; with many, a map keeps lookups flat however
// many routes share a prefix. BenchmarkChildLookup puts the crossover
// between 4 and 8 children.
const linearMax = 6

// node is one position in the segment tree.
type node struct {
	// keys and kids are the static children, in insertion order, with
	// kids[i] reached by the segment keys[i]. The empty key is the trailing
	// slash.
	keys []string
	kids []*node
	// index maps a segment to its child when there are more than linearMax.
	index map[string]*node
	// param is the child reached by any one non-empty segment.
	param *node
	// leaf holds the specs whose pattern ends at this node.
	leaf []candidate
	// rest holds the specs whose {rest...} starts at this node.
	rest []candidate
}

// candidate is one spec as a node holds it: its predicates compiled for the
// request path.
type candidate struct {
	route   int
	methods Methods
	// narrowed records that the spec restricts its methods below the
	// default set, which ranks it above an otherwise equal spec.
	narrowed bool
	// plain records that there is no host, header or query predicate, so
	// only the method needs checking.
	plain   bool
	host    hostMatcher
	headers []pair
	query   []pair
	names   []string
}

// Compile checks the specs and builds their table. The spec index is the
// route number Match reports. An error is a *SpecError naming the first spec
// at fault: a bad pattern or predicate, an unknown method bit, or a
// duplicate, meaning the same pattern up to parameter names, the same host,
// headers and query, and at least one method in common.
func Compile(specs []Spec) (*Table, error) {
	t := &Table{names: make([][]string, len(specs))}
	seen := make(map[string][]int, len(specs))
	cands := make([]candidate, len(specs))
	for i := range specs {
		s := &specs[i]
		pat, err := parsePattern(s.Path)
		if err != nil {
			return nil, &SpecError{Index: i, Field: "path", Err: err}
		}
		c, err := compileCandidate(i, s)
		if err != nil {
			return nil, err
		}
		c.names = pat.names
		cands[i] = c
		t.names[i] = pat.names

		key := dupKey(pat.shape, &c)
		for _, j := range seen[key] {
			if both := cands[j].methods & c.methods; both != 0 {
				return nil, &SpecError{Index: i, Err: fmt.Errorf(
					"%w: same path, host, headers and query as route %d, and both allow %s", ErrDuplicate, j, both)}
			}
		}
		seen[key] = append(seen[key], i)
		t.root.insert(pat.segs, c)
	}
	t.root.finish()
	return t, nil
}

// compileCandidate compiles the method, host, header and query predicates
// of spec i.
func compileCandidate(i int, s *Spec) (candidate, error) {
	c := candidate{route: i, methods: s.Methods.withImplied()}
	if c.methods == 0 {
		c.methods = DefaultMethods
	}
	if c.methods&^AllMethods != 0 {
		return c, &SpecError{Index: i, Field: "methods", Err: fmt.Errorf("%w: unknown method bits %#x", ErrUnknownMethod, uint16(c.methods&^AllMethods))}
	}
	c.narrowed = c.methods != DefaultMethods
	var err error
	if c.host, err = compileHost(s.Host); err != nil {
		return c, &SpecError{Index: i, Field: "host", Err: err}
	}
	if c.headers, err = compileHeaders(s.Headers); err != nil {
		return c, &SpecError{Index: i, Field: "headers", Err: err}
	}
	if c.query, err = compileQuery(s.Query); err != nil {
		return c, &SpecError{Index: i, Field: "query", Err: err}
	}
	c.plain = c.host.kind == hostAny && len(c.headers) == 0 && len(c.query) == 0
	return c, nil
}

// dupKey identifies the specificity class of a spec: specs with equal keys
// match exactly the same requests apart from their methods.
func dupKey(shape string, c *candidate) string {
	var b strings.Builder
	b.WriteString(shape)
	b.WriteString("\x00")
	b.WriteString(strconv.Itoa(int(c.host.kind)))
	b.WriteString(strconv.Quote(c.host.name))
	for _, p := range c.headers {
		b.WriteString("\x00h")
		b.WriteString(strconv.Quote(p.name))
		b.WriteString(strconv.Quote(p.want))
	}
	for _, p := range c.query {
		b.WriteString("\x00q")
		b.WriteString(strconv.Quote(p.name))
		b.WriteString(strconv.Quote(p.want))
	}
	return b.String()
}

// insert adds c under the path described by segs.
func (n *node) insert(segs []segment, c candidate) {
	for _, s := range segs {
		switch s.kind {
		case segStatic:
			n = n.staticChild(s.text)
		case segParam:
			if n.param == nil {
				n.param = &node{}
			}
			n = n.param
		case segRest:
			// parsePattern guarantees {rest...} is last.
			n.rest = append(n.rest, c)
			return
		}
	}
	n.leaf = append(n.leaf, c)
}

// staticChild returns the child for seg, creating it when missing.
func (n *node) staticChild(seg string) *node {
	for i, k := range n.keys {
		if k == seg {
			return n.kids[i]
		}
	}
	child := &node{}
	n.keys = append(n.keys, seg)
	n.kids = append(n.kids, child)
	return child
}

// finish orders every node's candidates and builds the maps of wide nodes,
// once the whole tree is known.
func (n *node) finish() {
	sortCandidates(n.leaf)
	sortCandidates(n.rest)
	if len(n.keys) > linearMax {
		n.index = make(map[string]*node, len(n.keys))
		for i, k := range n.keys {
			n.index[k] = n.kids[i]
		}
	}
	for _, k := range n.kids {
		k.finish()
	}
	if n.param != nil {
		n.param.finish()
	}
}

// sortCandidates puts the most specific candidate first: an exact host, then
// a wildcard host (the longer suffix first), then more headers, more query
// arguments, a narrowed method set, and finally the order of the
// configuration.
func sortCandidates(cs []candidate) {
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := &cs[i], &cs[j]
		if a.host.kind != b.host.kind {
			return a.host.kind > b.host.kind
		}
		if len(a.host.name) != len(b.host.name) {
			// Only wildcards can differ here: the longer suffix is
			// the narrower one, as in nginx and TLS certificates.
			return len(a.host.name) > len(b.host.name)
		}
		if len(a.headers) != len(b.headers) {
			return len(a.headers) > len(b.headers)
		}
		if len(a.query) != len(b.query) {
			return len(a.query) > len(b.query)
		}
		if a.narrowed != b.narrowed {
			return a.narrowed
		}
		return a.route < b.route
	})
}

// Len returns the number of specs the table was compiled from.
func (t *Table) Len() int { return len(t.names) }

// ParamNames returns the parameter names of spec i in pattern order, the
// catch-all's without "...". The slice belongs to the table: do not modify
// it. It is nil for an index out of range or a pattern without parameters.
func (t *Table) ParamNames(i int) []string {
	if i < 0 || i >= len(t.names) {
		return nil
	}
	return t.names[i]
}
