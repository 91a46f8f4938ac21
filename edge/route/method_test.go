package route

import (
	"errors"
	"testing"
)

func TestParseMethod(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Methods
	}{
		{"GET", MethodGet},
		{"HEAD", MethodHead},
		{"POST", MethodPost},
		{"PUT", MethodPut},
		{"PATCH", MethodPatch},
		{"DELETE", MethodDelete},
		{"OPTIONS", MethodOptions},
		{"CONNECT", MethodConnect},
		{"TRACE", MethodTrace},
		{"get", 0},
		{"Get", 0},
		{"", 0},
		{"PROPFIND", 0},
		{"GET ", 0},
	} {
		if got := ParseMethod([]byte(tc.in)); got != tc.want {
			t.Errorf("ParseMethod(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestMethodsOf(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want Methods
	}{
		{nil, DefaultMethods},
		{[]string{}, DefaultMethods},
		{[]string{"GET"}, MethodGet | MethodHead},
		{[]string{"HEAD"}, MethodHead},
		{[]string{"POST", "PUT", "POST"}, MethodPost | MethodPut},
		{[]string{"GET", "POST", "PUT", "DELETE"}, MethodGet | MethodHead | MethodPost | MethodPut | MethodDelete},
		{[]string{"CONNECT", "TRACE"}, MethodConnect | MethodTrace},
	} {
		got, err := MethodsOf(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("MethodsOf(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range [][]string{{"get"}, {"GET", "FETCH"}, {""}} {
		if _, err := MethodsOf(bad); !errors.Is(err, ErrUnknownMethod) {
			t.Errorf("MethodsOf(%q) error = %v, want ErrUnknownMethod", bad, err)
		}
	}
}

func TestAppendAllow(t *testing.T) {
	for _, tc := range []struct {
		in   Methods
		want string
	}{
		{0, ""},
		{MethodGet, "GET"},
		{MethodPost | MethodGet | MethodHead, "GET, HEAD, POST"},
		{MethodTrace | MethodDelete | MethodOptions, "DELETE, OPTIONS, TRACE"},
		{AllMethods, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE"},
	} {
		if got := string(tc.in.AppendAllow([]byte("Allow: "))); got != "Allow: "+tc.want {
			t.Errorf("%#x.AppendAllow = %q, want %q", uint16(tc.in), got, "Allow: "+tc.want)
		}
		if got := tc.in.String(); got != tc.want {
			t.Errorf("%#x.String() = %q, want %q", uint16(tc.in), got, tc.want)
		}
	}
}
