package route

import (
	"errors"
	"fmt"
)

// Methods is a set of HTTP methods, one bit per method. A set fits in a
// register, so checking a request's method against a route is one AND.
type Methods uint16

// The method bits, in the order AppendAllow writes them.
const (
	MethodGet Methods = 1 << iota
	MethodHead
	MethodPost
	MethodPut
	MethodPatch
	MethodDelete
	MethodOptions
	MethodConnect
	MethodTrace
)

// DefaultMethods is the set a route allows when its configuration lists no
// methods: everything a REST API commonly serves, without CONNECT and TRACE,
// which a gateway should only pass on when asked to.
const DefaultMethods = MethodGet | MethodHead | MethodPost | MethodPut | MethodPatch | MethodDelete | MethodOptions

// AllMethods is the set of every method the package knows.
const AllMethods = DefaultMethods | MethodConnect | MethodTrace

// methodNames holds the canonical name of each bit, indexed by bit position.
var methodNames = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

// ErrUnknownMethod is returned by MethodsOf for a name that is not one of
// GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT or TRACE, written in
// upper case.
var ErrUnknownMethod = errors.New("route: unknown method (use GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT or TRACE, in upper case)")

// ParseMethod returns the bit of the request method m, or 0 when m is not a
// method the package knows. The comparison is case-sensitive, as RFC 9110
// defines methods: "get" is unknown. It does not allocate.
func ParseMethod(m []byte) Methods {
	// A switch on string(m) compiles to length-then-content comparisons
	// without converting m.
	switch string(m) {
	case "GET":
		return MethodGet
	case "HEAD":
		return MethodHead
	case "POST":
		return MethodPost
	case "PUT":
		return MethodPut
	case "PATCH":
		return MethodPatch
	case "DELETE":
		return MethodDelete
	case "OPTIONS":
		return MethodOptions
	case "CONNECT":
		return MethodConnect
	case "TRACE":
		return MethodTrace
	}
	return 0
}

// MethodsOf turns a configured method list into a set. An empty list means
// DefaultMethods. GET implies HEAD, because a HEAD request is a GET without
// its body and every backend that serves one serves the other. Names are
// case-sensitive, like ParseMethod; an unknown name is an error wrapping
// ErrUnknownMethod. Repeated names are harmless.
func MethodsOf(names []string) (Methods, error) {
	if len(names) == 0 {
		return DefaultMethods, nil
	}
	var m Methods
	for _, name := range names {
		bit := ParseMethod([]byte(name))
		if bit == 0 {
			return 0, fmt.Errorf("%q: %w", name, ErrUnknownMethod)
		}
		m |= bit
	}
	return m.withImplied(), nil
}

// withImplied adds the methods a set implies: HEAD when it holds GET.
func (m Methods) withImplied() Methods {
	if m&MethodGet != 0 {
		m |= MethodHead
	}
	return m
}

// Has reports whether every method of o is in m.
func (m Methods) Has(o Methods) bool {
	return m&o == o
}

// AppendAllow appends the set as the value of an Allow header, such as
// "GET, HEAD, POST", to dst and returns the extended slice. Methods appear
// in a fixed order (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT,
// TRACE), so the header is stable across requests and reloads. It does not
// allocate when dst has room.
func (m Methods) AppendAllow(dst []byte) []byte {
	first := true
	for i, name := range methodNames {
		if m&(1<<i) == 0 {
			continue
		}
		if !first {
			dst = append(dst, ", "...)
		}
		first = false
		dst = append(dst, name...)
	}
	return dst
}

// String returns the set as AppendAllow writes it; it is meant for errors
// and logs, not the request path.
func (m Methods) String() string {
	return string(m.AppendAllow(nil))
}
