package route

import (
	"math"

	"github.com/valyala/fasthttp"
)

// Request is what Match reads from a request. The caller fills it from its
// fasthttp.RequestCtx; Match keeps no reference to it after returning,
// except the parameter values in Result.Params, which are sub-slices of
// Path.
type Request struct {
	// Method is the request method as sent, such as "GET".
	Method []byte
	// Path is the normalised request path, starting with '/', without the
	// query.
	Path []byte
	// Host is the Host header; a ":port" suffix is ignored.
	Host []byte
	// Header is read for header predicates; nil reads as no headers. Match
	// uses Peek, which relies on fasthttp's default header name
	// normalisation and writes its scratch buffer, so the header must not
	// be shared with another goroutine during Match.
	Header *fasthttp.RequestHeader
	// Args are the query arguments, read for query predicates; nil reads as
	// none.
	Args *fasthttp.Args
}

// Status is the outcome of Match.
type Status uint8

const (
	// Found means Result.Route names the chosen spec.
	Found Status = iota
	// NotFound means no spec matches the path, host, headers and query:
	// the gateway answers 404 no_route.
	NotFound
	// MethodNotAllowed means some spec matches everything but the method:
	// the gateway answers 405 with Result.Allow in the Allow header.
	MethodNotAllowed
)

// String returns the status as the gateway's error codes spell it.
func (s Status) String() string {
	switch s {
	case Found:
		return "found"
	case NotFound:
		return "no_route"
	case MethodNotAllowed:
		return "method_not_allowed"
	}
	return "unknown"
}

// Params holds the values a match captured, in pattern order. It is a
// fixed-size array rather than a slice so that a Result, reused by the
// caller, captures without allocating. Values are sub-slices of
// Request.Path and stay valid as long as that buffer does.
type Params struct {
	path  []byte
	names []string
	n     int
	// at holds the start and end offsets of each value in path; offsets
	// instead of slices halve the array and spare the GC pointers.
	at [MaxParams][2]uint32
}

// Len returns the number of captured values, which is the number of
// parameters of the matched route's pattern.
func (p *Params) Len() int { return p.n }

// Value returns the i-th value in the pattern's order, or nil when i is out
// of range. A catch-all that matched nothing is empty, not nil.
func (p *Params) Value(i int) []byte {
	if uint(i) >= uint(p.n) {
		return nil
	}
	return p.path[p.at[i][0]:p.at[i][1]:p.at[i][1]]
}

// Name returns the name of the i-th parameter, or "" when i is out of range.
func (p *Params) Name(i int) string {
	if uint(i) >= uint(p.n) {
		return ""
	}
	return p.names[i]
}

// Get returns the value of the parameter called name (a catch-all without
// "..."), or nil when the matched route has no such parameter. Names are
// few, so a linear scan beats any index.
func (p *Params) Get(name string) []byte {
	for i := 0; i < p.n; i++ {
		if p.names[i] == name {
			return p.Value(i)
		}
	}
	return nil
}

// Reset forgets all values and the references to the path and names.
func (p *Params) Reset() {
	p.path = nil
	p.names = nil
	p.n = 0
}

// push records the value path[start:end]; the walk undoes it with p.n--
// when it backs out of the branch that captured it.
func (p *Params) push(start, end int) {
	p.at[p.n] = [2]uint32{uint32(start), uint32(end)}
	p.n++
}

// Result is the outcome of Match. Callers keep one per request (in their
// pooled request state) and pass it to every Match: reuse is what keeps
// matching free of allocations.
type Result struct {
	// Route is the index of the chosen spec, or -1.
	Route int
	// Status tells whether a route was found, and if not, whether 404 or
	// 405 is the answer.
	Status Status
	// Allow, for MethodNotAllowed, is the union of the methods of every
	// spec that matched all but the method.
	Allow Methods
	// Params are the matched route's parameter values; empty unless Found.
	Params Params
}

// maxPath is the longest path Match considers: parameter offsets are
// stored as uint32. Servers cap request lines far below it.
const maxPath = math.MaxUint32

// Match finds the route for r and fills res. It does not allocate and is
// safe for concurrent use with distinct r and res.
//
// The path is walked one segment at a time. At each node the static child
// for the segment is tried first, then the {param} child, then the node's
// {rest...} routes; when a branch ends without a route whose predicates all
// hold, the walk backs up and tries the next, so a more specific branch
// never hides a less specific route that matches. At the end of the path,
// the routes ending at the node are tried before its {rest...} routes.
func (t *Table) Match(r *Request, res *Result) {
	res.Route = -1
	res.Status = NotFound
	res.Allow = 0
	res.Params.Reset()
	if t == nil || len(r.Path) == 0 || r.Path[0] != '/' || uint64(len(r.Path)) > maxPath {
		return
	}
	w := walker{
		req:    r,
		res:    res,
		path:   r.Path,
		method: ParseMethod(r.Method),
		host:   hostOnly(r.Host),
	}
	res.Params.path = r.Path
	if w.walk(&t.root, 0) {
		res.Status = Found
		return
	}
	res.Params.Reset()
	if w.allow != 0 {
		res.Status = MethodNotAllowed
		res.Allow = w.allow
	}
}

// walker is the state of one Match, kept on the stack.
type walker struct {
	req    *Request
	res    *Result
	path   []byte
	method Methods
	host   []byte
	// allow collects the methods of candidates that matched all but the
	// method.
	allow Methods
}

// walk tries to finish the match from node n, where pos is the index of
// the '/' that starts the next segment, or len(path) when the path ends at
// n. It reports whether a route was found; on failure it leaves the
// parameters as it found them.
func (w *walker) walk(n *node, pos int) bool {
	path := w.path
	p := &w.res.Params
	if pos == len(path) {
		if len(n.leaf) > 0 && w.pick(n.leaf) {
			return true
		}
		if len(n.rest) > 0 {
			p.push(pos, pos)
			if w.pick(n.rest) {
				return true
			}
			p.n--
		}
		return false
	}
	start := pos + 1
	// Segments are short: a plain loop beats the call into the
	// vectorised bytes.IndexByte.
	end := start
	for end < len(path) && path[end] != '/' {
		end++
	}
	seg := path[start:end]
	if child := n.child(seg); child != nil && w.walk(child, end) {
		return true
	}
	if n.param != nil && len(seg) > 0 {
		p.push(start, end)
		if w.walk(n.param, end) {
			return true
		}
		p.n--
	}
	if len(n.rest) > 0 {
		p.push(start, len(path))
		if w.pick(n.rest) {
			return true
		}
		p.n--
	}
	return false
}

// child returns the static child for seg, or nil.
func (n *node) child(seg []byte) *node {
	if n.index != nil {
		// The compiler looks up m[string(b)] without converting b.
		return n.index[string(seg)]
	}
	for i, k := range n.keys {
		if k == string(seg) {
			return n.kids[i]
		}
	}
	return nil
}

// pick chooses the first candidate, in specificity order, whose method and
// predicates hold. Candidates that hold but for the method add their
// methods to w.allow.
func (w *walker) pick(cs []candidate) bool {
	for i := range cs {
		c := &cs[i]
		if c.methods&w.method != 0 {
			if c.plain || w.predicates(c) {
				w.res.Route = c.route
				w.res.Params.names = c.names
				return true
			}
			continue
		}
		// Evaluate predicates only when they could widen Allow.
		if c.methods&^w.allow != 0 && (c.plain || w.predicates(c)) {
			w.allow |= c.methods
		}
	}
	return false
}

// predicates reports whether c's host, header and query predicates hold,
// cheapest first.
func (w *walker) predicates(c *candidate) bool {
	return c.host.match(w.host) &&
		headersMatch(c.headers, w.req.Header) &&
		queryMatch(c.query, w.req.Args)
}
