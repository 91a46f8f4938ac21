package route

import (
	"fmt"
	"strings"
)

// Template is a compiled rewrite such as "/users/{rest}": literal text with
// references to the matched route's parameters. It is built once per route
// when the configuration loads, so rewriting a path is a few appends. The
// zero Template is valid and means "no rewrite". A Template is immutable and
// safe for concurrent use.
type Template struct {
	parts []tmplPart
}

// tmplPart is literal text, or the value of parameter param when param >= 0.
type tmplPart struct {
	// text is the literal, or the parameter's name.
	text  string
	param int
}

// CompileTemplate compiles tmpl against the parameter names of the route it
// rewrites (Table.ParamNames). A reference is {name}; {name...} is accepted
// for a catch-all too, so a rewrite may copy the pattern's spelling. Text
// outside braces is literal. It is an error to name a parameter the route
// does not have, to leave a brace unclosed or unopened, or to leave a name
// empty. An empty tmpl yields the zero Template.
func CompileTemplate(tmpl string, paramNames []string) (Template, error) {
	var t Template
	for s := tmpl; s != ""; {
		open := strings.IndexByte(s, '{')
		closing := strings.IndexByte(s, '}')
		if closing >= 0 && (open < 0 || closing < open) {
			return Template{}, fmt.Errorf("%w: template %q: '}' without '{'", ErrBadPattern, tmpl)
		}
		if open < 0 {
			t.addLiteral(s)
			break
		}
		if closing < 0 {
			return Template{}, fmt.Errorf("%w: template %q: unclosed '{'", ErrBadPattern, tmpl)
		}
		if open > 0 {
			t.addLiteral(s[:open])
		}
		name := s[open+1 : closing]
		if strings.IndexByte(name, '{') >= 0 {
			return Template{}, fmt.Errorf("%w: template %q: '{' inside a reference", ErrBadPattern, tmpl)
		}
		name = strings.TrimSuffix(name, "...")
		if err := checkName(name); err != nil {
			return Template{}, fmt.Errorf("%w: template %q: %s", ErrBadPattern, tmpl, err)
		}
		idx := -1
		for i, n := range paramNames {
			if n == name {
				idx = i
				break
			}
		}
		if idx < 0 {
			return Template{}, fmt.Errorf("%w: template %q: the route has no parameter %q (it has %s)", ErrBadPattern, tmpl, name, listNames(paramNames))
		}
		t.parts = append(t.parts, tmplPart{text: name, param: idx})
		s = s[closing+1:]
	}
	return t, nil
}

// addLiteral appends literal text, merging it with a preceding literal.
func (t *Template) addLiteral(s string) {
	if n := len(t.parts); n > 0 && t.parts[n-1].param < 0 {
		t.parts[n-1].text += s
		return
	}
	t.parts = append(t.parts, tmplPart{text: s, param: -1})
}

// listNames renders parameter names for an error message.
func listNames(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return "{" + strings.Join(names, "}, {") + "}"
}

// IsZero reports whether t is the zero Template, which rewrites nothing.
func (t Template) IsZero() bool { return len(t.parts) == 0 }

// AppendPath appends the rewritten path to dst and returns the extended
// slice: literal text as written, references replaced by p's values (empty
// when p lacks one). It does not allocate when dst has room; a caller
// reusing a buffer per request reaches that after the first requests.
func (t Template) AppendPath(dst []byte, p *Params) []byte {
	for i := range t.parts {
		part := &t.parts[i]
		if part.param < 0 {
			dst = append(dst, part.text...)
		} else {
			dst = append(dst, p.Value(part.param)...)
		}
	}
	return dst
}

// String returns the template in its configured form, with {name}
// references; it is meant for logs and golden files.
func (t Template) String() string {
	var b strings.Builder
	for _, part := range t.parts {
		if part.param < 0 {
			b.WriteString(part.text)
		} else {
			b.WriteString("{" + part.text + "}")
		}
	}
	return b.String()
}
