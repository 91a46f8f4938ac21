package route

import (
	"errors"
	"strings"
	"testing"
)

func TestTemplate(t *testing.T) {
	tab := mustCompile(t, []Spec{{Path: "/api/v2/users/{id}/{rest...}"}})
	var res Result
	tab.Match(probe{method: "GET", path: "/api/v2/users/42/orders/7"}.request(), &res)
	if res.Status != Found {
		t.Fatalf("match: %v", res.Status)
	}
	names := tab.ParamNames(0)
	for _, tc := range []struct {
		tmpl string
		want string
	}{
		{"/users/{rest}", "/users/orders/7"},
		{"/users/{rest...}", "/users/orders/7"},
		{"/u/{id}/x/{rest}", "/u/42/x/orders/7"},
		{"{id}{id}", "4242"},
		{"/static", "/static"},
		{"/q?user={id}", "/q?user=42"},
	} {
		tmpl, err := CompileTemplate(tc.tmpl, names)
		if err != nil {
			t.Errorf("CompileTemplate(%q): %v", tc.tmpl, err)
			continue
		}
		if tmpl.IsZero() {
			t.Errorf("CompileTemplate(%q) is zero", tc.tmpl)
		}
		if got := string(tmpl.AppendPath([]byte(">"), &res.Params)); got != ">"+tc.want {
			t.Errorf("%q.AppendPath = %q, want %q", tc.tmpl, got, ">"+tc.want)
		}
		if s := tmpl.String(); s != strings.ReplaceAll(tc.tmpl, "...}", "}") {
			t.Errorf("%q.String() = %q", tc.tmpl, s)
		}
	}

	// A catch-all that matched nothing rewrites to the bare prefix.
	tab.Match(probe{method: "GET", path: "/api/v2/users/42"}.request(), &res)
	tmpl, _ := CompileTemplate("/users/{id}/{rest}", names)
	if got := string(tmpl.AppendPath(nil, &res.Params)); got != "/users/42/" {
		t.Errorf("empty catch-all: %q", got)
	}
}

func TestTemplateZero(t *testing.T) {
	var zero Template
	if !zero.IsZero() {
		t.Error("zero Template is not zero")
	}
	tmpl, err := CompileTemplate("", nil)
	if err != nil || !tmpl.IsZero() {
		t.Errorf("CompileTemplate(\"\") = %v, %v", tmpl, err)
	}
	if got := string(zero.AppendPath([]byte("x"), &Params{})); got != "x" {
		t.Errorf("zero AppendPath = %q", got)
	}
}

func TestTemplateErrors(t *testing.T) {
	names := []string{"id", "rest"}
	for _, tc := range []struct {
		tmpl string
		msg  string
	}{
		{"/users/{name}", `no parameter "name" (it has {id}, {rest})`},
		{"/users/{", "unclosed '{'"},
		{"/users/{id", "unclosed '{'"},
		{"/users/}", "'}' without '{'"},
		{"/users/}{id}", "'}' without '{'"},
		{"/users/{}", "empty parameter name"},
		{"/users/{...}", "empty parameter name"},
		{"/users/{a{id}}", "'{' inside a reference"},
		{"/users/{id}}", "'}' without '{'"},
		{"/users/{i d}", "has ' '"},
	} {
		_, err := CompileTemplate(tc.tmpl, names)
		if !errors.Is(err, ErrBadPattern) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("CompileTemplate(%q) error = %v, want it to contain %q", tc.tmpl, err, tc.msg)
		}
	}
	if _, err := CompileTemplate("/x/{id}", nil); err == nil || !strings.Contains(err.Error(), "(it has none)") {
		t.Errorf("no names: %v", err)
	}
}
