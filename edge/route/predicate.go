package route

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/valyala/fasthttp"
)

// ErrBadPredicate is wrapped by every error about a route's host, header or
// query predicate.
var ErrBadPredicate = errors.New("route: bad predicate")

// hostKind tells how a route's host predicate compares. Its value is also the
// predicate's rank when candidates are ordered: an exact host is more
// specific than a wildcard, which is more specific than any host.
type hostKind uint8

const (
	hostAny hostKind = iota
	hostWildcard
	hostExact
)

// hostMatcher is a compiled host predicate.
type hostMatcher struct {
	kind hostKind
	// name is the lower-case host for hostExact, and the suffix with its
	// leading dot (".example.com") for hostWildcard.
	name string
}

// compileHost checks and normalises a configured host: lower case, no
// trailing dot, no port (the request's port is ignored, so a port here could
// only mislead). "*.example.com" matches one or more labels before
// "example.com"; a bare "*" is refused because "" already means any host.
func compileHost(h string) (hostMatcher, error) {
	if h == "" {
		return hostMatcher{}, nil
	}
	orig := h
	for i := 0; i < len(h); i++ {
		if h[i] <= ' ' || h[i] >= 0x7f {
			return hostMatcher{}, fmt.Errorf("%w: host %q: only printable ASCII; write an internationalised name in punycode (xn--...)", ErrBadPredicate, orig)
		}
	}
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	kind := hostExact
	name := h
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		kind, name = hostWildcard, h[1:]
		h = rest
	}
	switch {
	case h == "*":
		return hostMatcher{}, fmt.Errorf("%w: host %q: use \"\" for any host, \"*.example.com\" for subdomains", ErrBadPredicate, orig)
	case h == "" || strings.HasPrefix(h, "."):
		return hostMatcher{}, fmt.Errorf("%w: host %q: empty label (use \"\" for any host, \"*.example.com\" for subdomains)", ErrBadPredicate, orig)
	case strings.Contains(h, "*"):
		return hostMatcher{}, fmt.Errorf("%w: host %q: '*' is only allowed as the whole first label", ErrBadPredicate, orig)
	case strings.HasPrefix(h, "["):
		if !strings.HasSuffix(h, "]") || kind == hostWildcard {
			return hostMatcher{}, fmt.Errorf("%w: host %q: an IPv6 literal is written [addr], without a port", ErrBadPredicate, orig)
		}
	case strings.ContainsAny(h, ":/"):
		return hostMatcher{}, fmt.Errorf("%w: host %q: give a bare host name, without scheme, port or path", ErrBadPredicate, orig)
	}
	return hostMatcher{kind: kind, name: name}, nil
}

// match reports whether the request host h, already stripped of its port,
// satisfies the predicate.
func (m *hostMatcher) match(h []byte) bool {
	switch m.kind {
	case hostExact:
		return equalFold(h, m.name)
	case hostWildcard:
		// At least one non-empty label must precede the suffix.
		n := len(h) - len(m.name)
		return n > 0 && h[0] != '.' && h[n-1] != '.' && equalFold(h[n:], m.name)
	}
	return true
}

// hostOnly strips the port and a trailing dot from a request's Host value,
// keeping an IPv6 literal's brackets: "API.example.com:8443" becomes
// "API.example.com", "[::1]:80" becomes "[::1]". Case is left alone; the
// comparison folds it.
func hostOnly(h []byte) []byte {
	if len(h) > 0 && h[0] == '[' {
		for i, c := range h {
			if c == ']' {
				return h[:i+1]
			}
		}
		return h
	}
	for i := len(h) - 1; i >= 0; i-- {
		if h[i] == ':' {
			h = h[:i]
			break
		}
	}
	if len(h) > 0 && h[len(h)-1] == '.' {
		h = h[:len(h)-1]
	}
	return h
}

// equalFold reports whether b equals the lower-case ASCII string s, ignoring
// ASCII case in b. Host names are ASCII on the wire (IDNs travel as
// punycode), so ASCII folding is the whole story.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// pair is one header or query predicate: the value must equal want exactly.
type pair struct {
	name string
	want string
}

// compileHeaders checks header predicates and stores names in the canonical
// form fasthttp uses ("x-client" becomes "X-Client"), sorted so that errors
// and duplicate detection do not depend on map order. Two names that differ
// only in case would make a predicate that can never hold, so they are
// refused. Cookie and Trailer are refused because fasthttp rebuilds their
// values on every Peek, which would cost an allocation per request.
func compileHeaders(h map[string]string) ([]pair, error) {
	if len(h) == 0 {
		return nil, nil
	}
	ps := make([]pair, 0, len(h))
	for _, name := range sortedKeys(h) {
		if name == "" || strings.ContainsAny(name, ": \t\r\n") {
			return nil, fmt.Errorf("%w: header name %q is not a token", ErrBadPredicate, name)
		}
		canon := string(fasthttp.AppendNormalizedHeaderKey(nil, name))
		switch canon {
		case fasthttp.HeaderCookie, fasthttp.HeaderTrailer:
			return nil, fmt.Errorf("%w: header %q cannot be matched per request without allocating", ErrBadPredicate, name)
		}
		for _, p := range ps {
			if p.name == canon {
				return nil, fmt.Errorf("%w: header %q given twice with different case", ErrBadPredicate, canon)
			}
		}
		ps = append(ps, pair{name: canon, want: h[name]})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].name < ps[j].name })
	return ps, nil
}

// compileQuery checks query predicates and sorts them by name. Query names
// are compared exactly, as fasthttp.Args does.
func compileQuery(q map[string]string) ([]pair, error) {
	if len(q) == 0 {
		return nil, nil
	}
	ps := make([]pair, 0, len(q))
	for _, name := range sortedKeys(q) {
		if name == "" {
			return nil, fmt.Errorf("%w: empty query argument name", ErrBadPredicate)
		}
		ps = append(ps, pair{name: name, want: q[name]})
	}
	return ps, nil
}

// sortedKeys returns m's keys in order, so that compiling, and the first
// error reported, never depend on map iteration order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// headersMatch reports whether every header predicate holds. An absent
// header reads as empty, so a predicate wanting "" also holds when the
// header is missing. Only the first value of a repeated header is compared.
func headersMatch(ps []pair, h *fasthttp.RequestHeader) bool {
	for i := range ps {
		var v []byte
		if h != nil {
			// Peek normalises the name into the header's own scratch
			// buffer: no allocation once that buffer has grown.
			v = h.Peek(ps[i].name)
		}
		if string(v) != ps[i].want {
			return false
		}
	}
	return true
}

// queryMatch reports whether every query predicate holds; an absent argument
// reads as empty, and only its first value is compared.
func queryMatch(ps []pair, a *fasthttp.Args) bool {
	for i := range ps {
		var v []byte
		if a != nil {
			v = a.Peek(ps[i].name)
		}
		if string(v) != ps[i].want {
			return false
		}
	}
	return true
}
