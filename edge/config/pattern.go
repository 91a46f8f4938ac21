package config

import (
	"slices"
	"strconv"
	"strings"
)

// The route package compiles match paths and rewrites; the checks here
// only exist so that `gateway check` reports pattern mistakes with their
// key path, together with every other problem. The two must agree on the
// syntax: static segments, {name} as a whole segment, and {name...} as the
// last segment catching the rest of the path.

// pattern is what the syntax check learns about a match path.
type pattern struct {
	// params are the parameter names, in order.
	params []string
	// shape is the pattern with its parameter names left out ("/a/{}" for
	// "/a/{id}", "/a/{...}" for "/a/{rest...}"): two patterns of the same
	// shape match the same paths.
	shape string
}

// parsePattern checks the syntax of a match path and returns what it
// found with a message per problem.
func parsePattern(p string) (pattern, []string) {
	var pat pattern
	var problems []string
	if !strings.HasPrefix(p, "/") {
		problems = append(problems, "must start with /")
	}
	if strings.ContainsAny(p, "?#") {
		problems = append(problems, "must not contain a query or fragment (match the query with match.query)")
	}
	if hasBlankOrControl(p) {
		problems = append(problems, "must not contain spaces or control characters")
	}
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	var shape strings.Builder
	emptyReported := false
	for i, seg := range segs {
		last := i == len(segs)-1
		shape.WriteByte('/')
		if seg == "" && !last && !emptyReported {
			problems = append(problems, "must not contain an empty segment (//)")
			emptyReported = true
		}
		if !strings.ContainsAny(seg, "{}") {
			shape.WriteString(seg)
			continue
		}
		name, rest, ok := paramSegment(seg)
		switch {
		case !ok:
			problems = append(problems, "parameter in "+strconv.Quote(seg)+" must be a whole segment, as in /users/{id}")
			continue
		case !validParamName(name):
			problems = append(problems, "invalid parameter name "+strconv.Quote(name)+" (use letters, digits and _)")
		case slices.Contains(pat.params, name):
			problems = append(problems, "parameter {"+name+"} appears twice")
		}
		if rest && !last {
			problems = append(problems, "catch-all {"+name+"...} must be the last segment")
		}
		pat.params = append(pat.params, name)
		if rest {
			shape.WriteString("{...}")
		} else {
			shape.WriteString("{}")
		}
	}
	pat.shape = shape.String()
	return pat, problems
}

// paramSegment splits a "{name}" or "{name...}" segment.
func paramSegment(seg string) (name string, rest, ok bool) {
	if len(seg) < 2 || seg[0] != '{' || seg[len(seg)-1] != '}' {
		return "", false, false
	}
	inner := seg[1 : len(seg)-1]
	if strings.ContainsAny(inner, "{}") {
		return "", false, false
	}
	name, rest = strings.CutSuffix(inner, "...")
	return name, rest, true
}

// checkRewrite checks a rewrite template against the parameters of its
// route's match path and returns a message per problem. A rewrite is a
// path in which {name} stands for the value of a parameter; unlike match
// paths, a parameter may sit inside a segment ("/v2-{id}").
func checkRewrite(rw string, params []string) []string {
	var problems []string
	if !strings.HasPrefix(rw, "/") {
		problems = append(problems, "must start with /")
	}
	if strings.ContainsAny(rw, "?#") {
		problems = append(problems, "must not contain a query or fragment: the client's query is passed on as it came")
	}
	if hasBlankOrControl(rw) {
		problems = append(problems, "must not contain spaces or control characters")
	}
	for s := rw; s != ""; {
		open, closing := strings.IndexByte(s, '{'), strings.IndexByte(s, '}')
		if open < 0 && closing < 0 {
			break
		}
		if open < 0 || closing < open {
			problems = append(problems, "has a } without its {")
			break
		}
		end := strings.IndexByte(s[open:], '}')
		if end < 0 {
			problems = append(problems, "has a { without its }")
			break
		}
		name := s[open+1 : open+end]
		s = s[open+end+1:]
		switch base, rest := strings.CutSuffix(name, "..."); {
		case strings.ContainsRune(name, '{'):
			problems = append(problems, "has a { without its }")
		case rest && slices.Contains(params, base):
			problems = append(problems, "write {"+base+"}, without \"...\", to insert a parameter")
		case !slices.Contains(params, name):
			problems = append(problems, "unknown parameter {"+name+"}"+knownParams(params))
		}
	}
	return problems
}

// knownParams lists the parameters a rewrite may use, for an error
// message.
func knownParams(params []string) string {
	if len(params) == 0 {
		return ": match.path has no parameters"
	}
	return ": match.path has {" + strings.Join(params, "}, {") + "}"
}

// validParamName reports whether name is a letter or '_' followed by
// letters, digits and '_'.
func validParamName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func hasBlankOrControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}
