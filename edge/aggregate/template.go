package aggregate

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/gateway/edge/route"
)

// Claims gives the verified identity's values to call templates:
// {claims.sub} and the claims the configuration maps to headers.
type Claims interface {
	Claim(name string) ([]byte, bool)
}

// Input is what one request offers to the templates of its calls.
type Input struct {
	Params *route.Params
	Query  *fasthttp.Args
	// Claims is nil on requests that carry no verified identity; a
	// template that needs a claim then fails the call.
	Claims Claims
}

// errMissingValue fails a call whose template names a value the request
// lacks: better null than a backend asked for "/users/".
var errMissingValue = errors.New("aggregate: template value missing")

// errUnsafeValue fails a call whose values would change the path's
// segments once the backend decodes it (see climbs).
var errUnsafeValue = errors.New("aggregate: template value would leave its path segment")

// template is a call path such as "/users/{claims.sub}" or
// "/notifications?user={claims.sub}&page={query.page}", compiled.
type template struct {
	parts []part
}

type partKind uint8

const (
	literal partKind = iota
	param            // a path parameter of the route, by index
	claim            // a verified claim, by name
	query            // a query argument of the client request, by name
)

type part struct {
	kind partKind
	text string // the literal, or the claim or query name
	idx  int    // the parameter index
	// inQuery selects query escaping for a value after '?'.
	inQuery bool
}

// compileTemplate parses a call path. References are {name} for a route
// parameter, {claims.NAME} and {query.NAME}.
func compileTemplate(s string, paramNames []string) (template, error) {
	var t template
	inQuery := false
	if strings.Count(s, "{") != strings.Count(s, "}") {
		return template{}, fmt.Errorf("unbalanced braces in %q", s)
	}
	for rest := s; rest != ""; {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			t.literal(rest, &inQuery)
			break
		}
		t.literal(rest[:open], &inQuery)
		closing := strings.IndexByte(rest[open:], '}')
		if closing < 0 {
			return template{}, fmt.Errorf("unclosed '{' in %q", s)
		}
		ref := rest[open+1 : open+closing]
		rest = rest[open+closing+1:]
		p := part{inQuery: inQuery}
		switch {
		case strings.HasPrefix(ref, "claims."):
			p.kind, p.text = claim, strings.TrimPrefix(ref, "claims.")
		case strings.HasPrefix(ref, "query."):
			p.kind, p.text = query, strings.TrimPrefix(ref, "query.")
		default:
			p.kind, p.idx = param, -1
			for i, n := range paramNames {
				if n == strings.TrimSuffix(ref, "...") {
					p.idx = i
				}
			}
			if p.idx < 0 {
				return template{}, fmt.Errorf("%q names {%s}, which is neither a path parameter of the route, {claims.NAME} nor {query.NAME}", s, ref)
			}
		}
		if (p.kind == claim || p.kind == query) && p.text == "" {
			return template{}, fmt.Errorf("%q has an empty name in {%s}", s, ref)
		}
		t.parts = append(t.parts, p)
	}
	return t, nil
}

func (t *template) literal(s string, inQuery *bool) {
	if s == "" {
		return
	}
	if strings.IndexByte(s, '?') >= 0 {
		*inQuery = true
	}
	t.parts = append(t.parts, part{kind: literal, text: s})
}

// appendURI appends the request URI for in. Values are escaped for where
// they stand, a '/' included, and a call whose path would still decode to
// other segments than the template's fails: escaping alone keeps "../admin"
// one segment only for backends that route on the raw path.
func (t *template) appendURI(dst []byte, in *Input) ([]byte, error) {
	start := len(dst)
	dst, err := t.appendRaw(dst, in)
	if err != nil {
		return dst, err
	}
	path := dst[start:]
	if q := bytes.IndexByte(path, '?'); q >= 0 {
		path = path[:q]
	}
	if climbs(path) {
		return dst, errUnsafeValue
	}
	return dst, nil
}

// climbs reports whether path, once decoded, has a segment of its own
// making: a "." or ".." segment, or a '/' or '\' inside one. Backends such
// as fasthttp and Go's ServeMux decode a path before they resolve its
// dot-segments, so "%2E%2E" and "..%2F" climb there as ".." does. The
// template's own text is checked by config validation, so what climbs
// came from a value.
func climbs(path []byte) bool {
	dots, other := 0, false
	for i := 0; i <= len(path); i++ {
		if i == len(path) || path[i] == '/' {
			if !other && (dots == 1 || dots == 2) {
				return true
			}
			dots, other = 0, false
			continue
		}
		c := path[i]
		if c == '%' && i+2 < len(path) && isHex(path[i+1]) && isHex(path[i+2]) {
			c = unhex(path[i+1])<<4 | unhex(path[i+2])
			i += 2
		}
		switch c {
		case '/', '\\':
			return true
		case '.':
			dots++
		default:
			other = true
		}
	}
	return false
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// appendRaw appends the request URI for in, values escaped, unchecked.
func (t *template) appendRaw(dst []byte, in *Input) ([]byte, error) {
	for i := range t.parts {
		p := &t.parts[i]
		var v []byte
		switch p.kind {
		case literal:
			dst = append(dst, p.text...)
			continue
		case param:
			if in.Params != nil {
				v = in.Params.Value(p.idx)
			}
		case claim:
			ok := false
			if in.Claims != nil {
				v, ok = in.Claims.Claim(p.text)
			}
			if !ok {
				return dst, errMissingValue
			}
		case query:
			if in.Query != nil {
				v = in.Query.Peek(p.text)
			}
		}
		if len(v) == 0 {
			return dst, errMissingValue
		}
		dst = appendEscaped(dst, v, p.inQuery, p.kind == param)
	}
	return dst, nil
}

// appendEscaped percent-encodes every byte outside RFC 3986 unreserved.
// In a path, a value of "." or ".." is escaped whole: left as it is, a
// backend would read it as a dot-segment and climb out of the template.
//
// A route param is already escaped: it is a piece of the request's path in
// the gateway's normal form, where every '%' starts a valid escape (so
// "a%2Fb" must not become "a%252Fb"). Its escapes are kept as they are;
// everything else outside unreserved, '/' of a catch-all included, is
// escaped like any other value.
func appendEscaped(dst, v []byte, inQuery, escaped bool) []byte {
	const hex = "0123456789ABCDEF"
	dots := !inQuery && (string(v) == "." || string(v) == "..")
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case unreserved(c) && !dots:
			dst = append(dst, c)
		case escaped && c == '%' && i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]):
			dst = append(dst, '%', hex[unhex(v[i+1])], hex[unhex(v[i+2])])
			i += 2
		default:
			dst = append(dst, '%', hex[c>>4], hex[c&0xf])
		}
	}
	return dst
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
