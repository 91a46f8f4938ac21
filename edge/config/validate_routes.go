package config

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// methods are the request methods a route may accept, in the order
// messages list them. Others (CONNECT, TRACE, lower-case spellings) are
// refused: fasthttp would forward them, and method-based policies could be
// bypassed with a spelling nobody wrote a rule for.
var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

var (
	authKinds = []string{"jwt", "api_key", "introspection"}
	varyWords = []string{"user"}
)

// routeMatch is what duplicate detection compares between routes.
type routeMatch struct {
	index   int
	methods uint8 // bit i set: methods[i] accepted
}

func (v *validator) routes() {
	names := make(map[string]int, len(v.c.Routes))
	matches := make(map[string][]routeMatch, len(v.c.Routes))
	for i, r := range v.c.Routes {
		p := indexPath("routes", i)
		if r == nil {
			v.add(p, "empty route")
			continue
		}
		if r.Name == "" {
			v.add(p+".name", "required")
		} else if first, dup := names[r.Name]; dup {
			v.add(p+".name", "duplicate route name %q (first at %s)", r.Name, indexPath("routes", first))
		} else {
			names[r.Name] = i
		}
		pat, patOK := v.match(p+".match", &r.Match)
		v.target(p, r, pat, patOK)
		v.routeAuth(p, r)
		for j, name := range r.RateLimit {
			if _, ok := v.c.RateLimits[name]; !ok {
				v.add(indexPath(p+".rate_limit", j), "unknown rate limit %q", name)
			}
		}
		v.headerRules(p+".request_headers", &r.RequestHeaders)
		v.headerRules(p+".response_headers", &r.ResponseHeaders)
		if c := r.Cache; c != nil {
			v.positive(p+".cache.ttl", c.TTL)
			for j, vary := range c.Vary {
				v.selector(indexPath(p+".cache.vary", j), vary, varyWords, headerPrefix)
			}
		}
		if patOK {
			v.duplicateRoute(p, i, pat, &r.Match, matches)
		}
	}
}

// match checks a route's predicates and returns its parsed path pattern;
// ok is false when the pattern has problems.
func (v *validator) match(p string, m *Match) (pat pattern, ok bool) {
	if m.Path == "" {
		v.add(p+".path", "required")
	} else {
		var problems []string
		pat, problems = parsePattern(m.Path)
		for _, msg := range problems {
			v.add(p+".path", "%s", msg)
		}
		ok = len(problems) == 0
	}
	seen := make(map[string]bool, len(m.Methods))
	for i, method := range m.Methods {
		mp := indexPath(p+".methods", i)
		switch {
		case slices.Contains(methods, method):
			if seen[method] {
				v.add(mp, "duplicate method %s", method)
			}
			seen[method] = true
		case slices.Contains(methods, strings.ToUpper(method)):
			v.add(mp, "methods are upper case: write %s", strings.ToUpper(method))
		default:
			v.add(mp, "unknown method %q (want %s)", method, orList(methods))
		}
	}
	if h := m.Host; h != "" {
		if strings.ContainsAny(h, "/ \t") || strings.Contains(h, "://") {
			v.add(p+".host", "want a host name such as api.example.com, got %q", h)
		} else if strings.Contains(h, ":") {
			v.add(p+".host", "must not include a port (the host is matched without it), got %q", h)
		}
	}
	for _, name := range sortedKeys(m.Headers) {
		v.header(keyPath(p+".headers", name), name)
	}
	for _, name := range sortedKeys(m.Query) {
		if name == "" {
			v.add(keyPath(p+".query", name), "query parameter name must not be empty")
		}
	}
	return pat, ok
}

// target checks where a route sends its requests: a service (with its
// rewrite and canary split) or an aggregate.
func (v *validator) target(p string, r *Route, pat pattern, patOK bool) {
	hasService, hasAggregate := r.Service != "", r.Aggregate != nil
	switch {
	case hasService && hasAggregate:
		v.add(p, "set either service or aggregate, not both")
	case !hasService && !hasAggregate:
		v.add(p, "needs a service or an aggregate")
	}
	if hasService {
		v.serviceRef(p+".service", r.Service)
	}
	if r.Rewrite != "" {
		if !hasService {
			v.add(p+".rewrite", "applies only to routes with a service")
		} else if patOK {
			for _, msg := range checkRewrite(r.Rewrite, pat.params) {
				v.add(p+".rewrite", "%s", msg)
			}
		}
	}
	if len(r.Split) > 0 && !hasService {
		v.add(p+".split", "applies only to routes with a service")
	}
	total := 0
	for i := range r.Split {
		sp := indexPath(p+".split", i)
		s := &r.Split[i]
		v.serviceRef(sp+".service", s.Service)
		if s.Weight < 1 || s.Weight > 100 {
			v.add(sp+".weight", "must be between 1 and 100 (percent), got %d", s.Weight)
		} else {
			total += s.Weight
		}
		if s.HashOn != "" {
			v.selector(sp+".hash_on", s.HashOn, hashOnWords, hashOnPrefix)
		}
	}
	if total > 100 {
		v.add(p+".split", "weights add up to %d; the total must not exceed 100", total)
	}
	if a := r.Aggregate; a != nil {
		v.positive(p+".aggregate.timeout", a.Timeout)
		if len(a.Calls) == 0 {
			v.add(p+".aggregate.calls", "at least one call is required")
		}
		for _, call := range a.Calls {
			cp := keyPath(p+".aggregate.calls", call.Name)
			v.serviceRef(cp+".service", call.Service)
			if !isUnreserved(call.Name) {
				v.add(cp, "call names must be letters, digits and -._~ (they are JSON keys and X-Partial entries), got %q", call.Name)
			}
			if call.Path == "" {
				v.add(cp+".path", "required")
			} else {
				for _, problem := range checkCallPath(call.Path) {
					v.add(cp+".path", "%s, got %q", problem, call.Path)
				}
			}
			v.callClaims(cp+".path", r, call.Path)
		}
	}
}

// callClaims checks the {claims.NAME} references of an aggregate call: the
// route must authenticate, and NAME must be a claim the gateway keeps:
// sub, or one that auth.jwt.claims_to_headers maps.
func (v *validator) callClaims(path string, r *Route, tmpl string) {
	for rest := tmpl; ; {
		i := strings.Index(rest, "{claims.")
		if i < 0 {
			return
		}
		rest = rest[i+len("{claims."):]
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return
		}
		name := rest[:end]
		switch {
		case len(r.Auth) == 0:
			v.add(path, "{claims.%s} needs the route to authenticate (auth)", name)
			return
		case name == "sub":
		case v.c.Auth.JWT != nil && v.c.Auth.JWT.ClaimsToHeaders[name] != "":
		case v.c.Auth.IntrospectionClaims()[name] != "":
		default:
			v.add(path, "{claims.%s}: only sub and the claims of auth.jwt.claims_to_headers or auth.introspection.claims_to_headers are available", name)
		}
	}
}

// serviceRef checks a reference to a service by name.
func (v *validator) serviceRef(path, name string) {
	if name == "" {
		v.add(path, "required")
	} else if _, ok := v.c.Services[name]; !ok {
		v.add(path, "unknown service %q", name)
	}
}

// routeAuth checks a route's auth list: each entry must name an auth
// block that is configured, or the route would accept no credential.
func (v *validator) routeAuth(p string, r *Route) {
	a := &v.c.Auth
	configured := map[string]bool{
		"jwt":           a.JWT != nil,
		"api_key":       a.APIKeys != nil,
		"introspection": a.Introspection != nil,
	}
	block := map[string]string{"jwt": "auth.jwt", "api_key": "auth.api_keys", "introspection": "auth.introspection"}
	for i, kind := range r.Auth {
		ap := indexPath(p+".auth", i)
		switch {
		case !slices.Contains(authKinds, kind):
			v.add(ap, "unknown value %q (want %s)", kind, orList(authKinds))
		case !configured[kind]:
			v.add(ap, "%s needs %s to be configured", kind, block[kind])
		}
	}
}

func (v *validator) headerRules(p string, h *HeaderRules) {
	for _, name := range sortedKeys(h.Set) {
		v.header(keyPath(p+".set", name), name)
	}
	for i, name := range h.Remove {
		v.header(indexPath(p+".remove", i), name)
	}
}

// duplicateRoute reports a route that matches exactly the requests an
// earlier one matches: same path pattern (parameter names aside), host,
// headers and query, with a method in common. The later route could never
// be chosen for those requests, which is always a mistake.
func (v *validator) duplicateRoute(p string, i int, pat pattern, m *Match, seen map[string][]routeMatch) {
	key := matchKey(pat, m)
	mine := methodSet(m.Methods)
	for _, other := range seen[key] {
		if common := mine & other.methods; common != 0 {
			prev := indexPath("routes", other.index)
			if name := v.c.Routes[other.index].Name; name != "" {
				prev += " (" + strconv.Quote(name) + ")"
			}
			v.add(p+".match", "duplicates %s: same path, host, headers and query, and both accept %s", prev, methodNames(common))
			break
		}
	}
	seen[key] = append(seen[key], routeMatch{i, mine})
}

// matchKey returns a string equal for two matches exactly when they match
// the same paths, hosts, headers and query.
func matchKey(pat pattern, m *Match) string {
	var b strings.Builder
	b.WriteString(strconv.Quote(pat.shape))
	b.WriteString(strconv.Quote(strings.ToLower(m.Host)))
	headers := make([]string, 0, len(m.Headers))
	for name, val := range m.Headers {
		headers = append(headers, strconv.Quote(http.CanonicalHeaderKey(name))+strconv.Quote(val))
	}
	slices.Sort(headers)
	b.WriteString(strconv.Itoa(len(headers)))
	b.WriteString(strings.Join(headers, ""))
	for _, name := range sortedKeys(m.Query) {
		b.WriteString(strconv.Quote(name) + strconv.Quote(m.Query[name]))
	}
	return b.String()
}

// methodSet returns the methods a route accepts as a bit set: all of them
// when none are listed, and HEAD with GET.
func methodSet(list []string) uint8 {
	if len(list) == 0 {
		return 1<<len(methods) - 1
	}
	var set uint8
	for _, m := range list {
		if i := slices.Index(methods, m); i >= 0 {
			set |= 1 << i
		}
	}
	if set&1 != 0 { // GET
		set |= 1 << 1 // HEAD
	}
	return set
}

func methodNames(set uint8) string {
	var names []string
	for i, m := range methods {
		if set&(1<<i) != 0 {
			names = append(names, m)
		}
	}
	return strings.Join(names, ", ")
}

// checkCallPath checks the literal text of an aggregate call path. The
// values put into it are escaped and checked per request; the text itself
// must already be what goes on the wire: no blanks, control bytes or '#'
// (fasthttp would alter or cut them), and no segment that a backend
// decoding the path would read as "." or "..", or split at an escaped
// '/' or '\'.
func checkCallPath(p string) []string {
	var problems []string
	if !strings.HasPrefix(p, "/") {
		problems = append(problems, "must start with /")
	}
	if hasBlankOrControl(p) || strings.ContainsRune(p, '#') {
		problems = append(problems, "must not contain spaces, control characters or '#'")
	}
	path, _, _ := strings.Cut(p, "?")
	if strings.Contains(path, "//") {
		// "//host/x" reads as an authority to some parsers, fasthttp's
		// among them.
		problems = append(problems, "must not contain empty segments (//)")
	}
	for _, seg := range strings.Split(path, "/") {
		if strings.ContainsRune(seg, '{') {
			continue // a reference: checked per request
		}
		dec, err := url.PathUnescape(seg)
		if err != nil || dec == "." || dec == ".." || strings.ContainsAny(dec, `/\`) {
			problems = append(problems, "segments must not be dot-segments, malformed escapes or escaped slashes")
			break
		}
	}
	return problems
}

// isUnreserved reports whether s is a non-empty run of RFC 3986 unreserved
// characters.
func isUnreserved(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}
