package config

import (
	"errors"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/edgegate/gateway/edge/route"
)

// wholeFileProblems are the messages of problems that carry no key path:
// those of the file as a whole, and a key of the top-level mapping that is
// not a string, which has no parent key to name.
var wholeFileProblems = []string{
	"invalid YAML",
	"config is empty",
	"config has more than one YAML document",
	"want a mapping of settings at the top of the file",
	"too many problems; stopped after",
	"keys must be strings",
}

// topLevelKeys are the keys of Config; every other first path segment
// must be reported as an unknown key.
var topLevelKeys = []string{"server", "admin", "redis", "logging", "auth", "services", "rate_limits", "routes"}

// FuzzParseErrors holds Parse to what `gateway check` promises: every
// problem names the key path it concerns, in a form that reads back
// unambiguously (plain keys joined by '.', indexes in [n], other keys
// quoted in ["..."]), and only problems of the whole file have none; the
// same file gives the same problems in the same order every time, so map
// order never leaks into the output. A file that parses passes Validate
// again, its defaults are a fixed point (but for admin.listen "off"), and
// every route it holds compiles in the route package: a valid config meets
// no input error later.
func FuzzParseErrors(f *testing.F) {
	setFixtureEnv(f)
	for _, file := range []string{"minimal", "example", "aggregate", "patterns", "unknown_keys", "services", "auth"} {
		data, err := os.ReadFile("testdata/" + file + ".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"services: {\"a.b\": {instances: [\"127.0.0.1:1\"]}}\nroutes: [{name: r, match: {path: /}, service: a.b}]\n",
		"auth: {jwt: {claims_to_headers: {\"https://x/[0]\": X-A}}}\n",
		"routes: [{name: r, match: {path: \"/a/{x}\"}, rewrite: \"/b/{x}{x}\", service: s}]\nservices: {s: {instances: [\"127.0.0.1:1\"]}}\n",
		"routes:\n  - {name: r, match: {path: /a}, service: s}\n  - {name: r, match: {path: /a}, service: s}\nservices: {s: {instances: [\"127.0.0.1:1\"]}}\n",
		"server: [1]\n",
		"- 1\n",
		"{}\n",
	} {
		f.Add([]byte(s))
	}
	path := fixturePath("fuzz.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, path)
		if err == nil {
			checkValid(t, c, data, path)
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 || len(errs) > maxProblems+1 {
			t.Fatalf("error %T with %d problems", err, len(errs))
		}
		unknown := make(map[string]bool)
		for _, e := range errs {
			if first, ok := splitKeyPath(e.Path); ok && e.Msg == "unknown key" {
				unknown[first] = true
			}
		}
		for _, e := range errs {
			checkProblem(t, e, unknown)
		}
		if _, again := Parse(data, path); again == nil || again.Error() != err.Error() {
			t.Fatalf("a second Parse of the same file reports other problems:\n%v\n---\n%v", err, again)
		}
	})
}

// checkProblem checks one reported problem's path. A path may start
// outside the known top-level keys only below a key reported unknown.
func checkProblem(t *testing.T, e Error, unknown map[string]bool) {
	t.Helper()
	if e.Path == "" {
		for _, p := range wholeFileProblems {
			if strings.HasPrefix(e.Msg, p) {
				return
			}
		}
		t.Fatalf("problem without a key path: %q", e.Msg)
	}
	first, ok := splitKeyPath(e.Path)
	if !ok {
		t.Fatalf("malformed key path %q (%s)", e.Path, e.Msg)
	}
	if !slices.Contains(topLevelKeys, first) && !unknown[first] {
		t.Fatalf("problem %q at %q, outside the top-level keys", e.Msg, e.Path)
	}
	if e.Msg == "" {
		t.Fatalf("problem at %q without a message", e.Path)
	}
}

// splitKeyPath reads a key path as keyPath and indexPath write it and
// returns its first key.
func splitKeyPath(p string) (first string, ok bool) {
	for i := 0; p != ""; i++ {
		var key string
		switch {
		case strings.HasPrefix(p, "["):
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return "", false
			}
			if _, err := strconv.Atoi(p[1:end]); err == nil && i > 0 {
				p = p[end+1:]
				continue
			}
			q, err := strconv.QuotedPrefix(p[1:])
			if err != nil || !strings.HasPrefix(p[1+len(q):], "]") {
				return "", false
			}
			key, _ = strconv.Unquote(q)
			if plainKey(key) {
				return "", false // a plain key is never quoted
			}
			p = p[1+len(q)+1:]
		default:
			if i > 0 {
				if !strings.HasPrefix(p, ".") {
					return "", false
				}
				p = p[1:]
			}
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				end = len(p)
			}
			key, p = p[:end], p[end:]
			if !plainKey(key) {
				return "", false
			}
		}
		if i == 0 {
			first = key
		}
	}
	return first, true
}

// checkValid checks what a successful Parse promises.
func checkValid(t *testing.T, c *Config, data []byte, path string) {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatalf("Parse accepted a config that Validate refuses: %v", err)
	}
	again, err := Parse(data, path)
	if err != nil {
		t.Fatalf("a second Parse refuses what the first accepted: %v", err)
	}
	// Defaults turns admin.listen "off" into "", which a second run would
	// take for unset; that one setting is documented as run-once.
	admin := again.Admin.Listen
	again.Defaults()
	again.Admin.Listen = admin
	if !reflect.DeepEqual(c, again) {
		t.Fatalf("Defaults changed a config that had its defaults:\n%+v\n%+v", c, again)
	}
	specs := make([]route.Spec, len(c.Routes))
	for i, r := range c.Routes {
		methods, err := route.MethodsOf(r.Match.Methods)
		if err != nil {
			t.Fatalf("routes[%d].match.methods %q passed validation: %v", i, r.Match.Methods, err)
		}
		specs[i] = route.Spec{Path: r.Match.Path, Methods: methods, Host: r.Match.Host, Headers: r.Match.Headers, Query: r.Match.Query}
	}
	tab, err := route.Compile(specs)
	if err != nil {
		t.Fatalf("routes passed validation but do not compile: %v", err)
	}
	for i, r := range c.Routes {
		if r.Rewrite == "" {
			continue
		}
		if _, err := route.CompileTemplate(r.Rewrite, tab.ParamNames(i)); err != nil {
			t.Fatalf("routes[%d].rewrite %q passed validation: %v", i, r.Rewrite, err)
		}
	}
}

// FuzzPatternAgreement holds the configuration's syntax checks of match
// paths and rewrites to the route package, which compiles them: whatever
// `gateway check` passes must compile, with the same parameters in the
// same order, and a pattern the route package refuses must be reported by
// the check.
func FuzzPatternAgreement(f *testing.F) {
	for _, tc := range []struct{ pattern, rewrite string }{
		{"/api/v2/users/{rest...}", "/users/{rest}"},
		{"/a/{id}/b/{rest...}", "/x/{id}-{rest}"},
		{"/a/{id}", "/x/{id...}"},
		{"/a/{id}", "/x/{other}"},
		{"/a/{x-y}", "/{x-y}"},
		{"/a/{1x}", "/"},
		{"/a//b", "/"},
		{"/a/{x}/{x}", "/"},
		{"/a/{x...}/b", "/"},
		{"/a/x{y}", "/"},
		{"/", "/{}"},
		{"/", "/}{"},
		{"/a/{x}", "/{x}}"},
		{"/a/{x}", "/{{x}"},
		{"/{a}/", "/{a}/"},
	} {
		f.Add(tc.pattern, tc.rewrite)
	}
	f.Fuzz(func(t *testing.T, pattern, rewrite string) {
		pat, problems := parsePattern(pattern)
		tab, err := route.Compile([]route.Spec{{Path: pattern}})
		if len(problems) == 0 {
			if err != nil {
				t.Fatalf("pattern %q passes the check but does not compile: %v", pattern, err)
			}
			if names := tab.ParamNames(0); !slices.Equal(names, pat.params) {
				t.Fatalf("pattern %q: the check sees parameters %q, the route package %q", pattern, pat.params, names)
			}
		} else if err == nil && !routeLaxer(pattern) {
			t.Fatalf("pattern %q compiles, but the check reports %q", pattern, problems)
		}
		if len(problems) > 0 {
			return
		}
		if rw := checkRewrite(rewrite, pat.params); len(rw) == 0 {
			if _, err := route.CompileTemplate(rewrite, pat.params); err != nil {
				t.Fatalf("rewrite %q of %q passes the check but does not compile: %v", rewrite, pattern, err)
			}
		}
	})
}

// routeLaxer reports whether pattern is one the route package accepts on
// purpose while the configuration check refuses it: the check is the
// stricter of the two where a mistake is likely (a parameter name with '-'
// or starting with a digit, spaces, control characters, '?' or '#', and
// an empty segment).
func routeLaxer(pattern string) bool {
	if hasBlankOrControl(pattern) || strings.ContainsAny(pattern, "?#") || strings.Contains(pattern, "//") {
		return true
	}
	for _, seg := range strings.Split(pattern, "/") {
		if name, _, ok := paramSegment(seg); ok && !validParamName(name) {
			return true
		}
	}
	return false
}
