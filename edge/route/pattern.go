package route

import (
	"errors"
	"fmt"
	"strings"
)

// MaxParams is the most parameters, the catch-all included, one pattern may
// hold. It sizes the fixed array inside Params, which is what lets Match
// capture values without allocating.
const MaxParams = 16

// ErrBadPattern is wrapped by every error about the syntax of a path pattern
// or a rewrite template.
var ErrBadPattern = errors.New("route: bad pattern")

// segKind tells what one '/'-separated piece of a pattern matches.
type segKind uint8

const (
	// segStatic matches exactly its text.
	segStatic segKind = iota
	// segParam matches one non-empty segment.
	segParam
	// segRest matches the rest of the path, slashes included, possibly empty.
	segRest
)

// segment is one piece of a parsed pattern.
type segment struct {
	kind segKind
	// text is the literal for a static segment, the name otherwise.
	text string
}

// pattern is a parsed path pattern.
type pattern struct {
	segs []segment
	// names are the parameter names in pattern order.
	names []string
	// shape is the pattern with every parameter name dropped ("/a/{}/{...}"),
	// so that two patterns differing only in names compare equal.
	shape string
}

// parsePattern splits a path pattern such as "/api/{version}/users/{rest...}"
// into segments. The rules, each with its reason:
//
//   - It starts with '/', as every request path does after normalising.
//   - A segment is all literal or exactly one {name} or {name...}: mixed
//     segments such as "v{n}" would need sub-segment matching that no route
//     in the configuration asks for.
//   - Only the last segment may be empty (a trailing slash, significant for
//     static routes); "//" inside a pattern could never match a normalised
//     path.
//   - {name...} is the last segment, names are unique, made of letters,
//     digits, '_' and '-', and at most MaxParams of them.
//   - '?' and '#' are refused: queries are matched by Spec.Query.
func parsePattern(p string) (pattern, error) {
	var pat pattern
	if p == "" || p[0] != '/' {
		return pat, fmt.Errorf("%w: %q must start with '/'", ErrBadPattern, p)
	}
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		return pat, fmt.Errorf("%w: %q holds %q; match query arguments with query", ErrBadPattern, p, p[i])
	}
	var shape strings.Builder
	rest := p[1:]
	for {
		text, tail, more := strings.Cut(rest, "/")
		if text == "" && more {
			return pat, fmt.Errorf("%w: %q has an empty segment", ErrBadPattern, p)
		}
		if len(pat.segs) > 0 && pat.segs[len(pat.segs)-1].kind == segRest {
			return pat, fmt.Errorf("%w: %q: {%s...} must be the last segment", ErrBadPattern, p, pat.segs[len(pat.segs)-1].text)
		}
		seg, err := parseSegment(text)
		if err != nil {
			return pat, fmt.Errorf("%w: %q: %s", ErrBadPattern, p, err)
		}
		shape.WriteByte('/')
		switch seg.kind {
		case segStatic:
			shape.WriteString(seg.text)
		case segParam:
			shape.WriteString("{}")
		case segRest:
			shape.WriteString("{...}")
		}
		if seg.kind != segStatic {
			for _, n := range pat.names {
				if n == seg.text {
					return pat, fmt.Errorf("%w: %q: parameter %q appears twice", ErrBadPattern, p, n)
				}
			}
			if len(pat.names) == MaxParams {
				return pat, fmt.Errorf("%w: %q: more than %d parameters", ErrBadPattern, p, MaxParams)
			}
			pat.names = append(pat.names, seg.text)
		}
		pat.segs = append(pat.segs, seg)
		if !more {
			break
		}
		rest = tail
	}
	pat.shape = shape.String()
	return pat, nil
}

// parseSegment classifies one segment of a pattern. Its errors are phrased to
// follow the pattern they are reported with.
func parseSegment(s string) (segment, error) {
	open := strings.IndexByte(s, '{')
	closing := strings.IndexByte(s, '}')
	switch {
	case open < 0 && closing < 0:
		return segment{kind: segStatic, text: s}, nil
	case open < 0:
		return segment{}, fmt.Errorf("'}' without '{' in %q", s)
	case closing < 0:
		return segment{}, fmt.Errorf("unclosed '{' in %q", s)
	case open != 0 || closing != len(s)-1:
		return segment{}, fmt.Errorf("segment %q mixes text and a parameter; a parameter fills its segment", s)
	}
	name := s[1 : len(s)-1]
	kind := segParam
	if n, ok := strings.CutSuffix(name, "..."); ok {
		name, kind = n, segRest
	}
	if err := checkName(name); err != nil {
		return segment{}, fmt.Errorf("%s in %q", err, s)
	}
	return segment{kind: kind, text: name}, nil
}

// checkName reports whether name is usable as a parameter name.
func checkName(name string) error {
	if name == "" {
		return errors.New("empty parameter name")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("parameter name %q has %q (use letters, digits, '_' and '-')", name, c)
		}
	}
	return nil
}
