package jwtcache

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func requestHeader(kv ...string) *fasthttp.RequestHeader {
	var h fasthttp.RequestHeader
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return &h
}

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		value, want string
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi"},
		{"bearer abc", "abc"},
		{"BEARER   abc  ", "abc"},
		{"Bearer", ""},
		{"Bearer ", ""},
		{"Bearerabc", ""},
		{"Basic dXNlcjpwYXNz", ""},
		{"ApiKey gw_x", ""},
		{"", ""},
	} {
		got := BearerToken(requestHeader("Authorization", tc.value))
		if string(got) != tc.want || (tc.want == "" && got != nil) {
			t.Errorf("BearerToken(%q) = %q, want %q", tc.value, got, tc.want)
		}
	}
	if got := BearerToken(requestHeader()); got != nil {
		t.Errorf("no header: %q", got)
	}
}

func TestAPIKeyHeader(t *testing.T) {
	header := []byte("X-API-Key")
	for _, tc := range []struct {
		name string
		kv   []string
		want string
	}{
		{"configured header", []string{"X-API-Key", "gw_a"}, "gw_a"},
		{"header name case", []string{"x-api-key", " gw_a "}, "gw_a"},
		{"Authorization ApiKey", []string{"Authorization", "ApiKey gw_b"}, "gw_b"},
		{"scheme case", []string{"Authorization", "apikey gw_b"}, "gw_b"},
		{"header wins", []string{"X-API-Key", "gw_a", "Authorization", "ApiKey gw_b"}, "gw_a"},
		{"empty header falls back", []string{"X-API-Key", "  ", "Authorization", "ApiKey gw_b"}, "gw_b"},
		{"bearer is not a key", []string{"Authorization", "Bearer gw_b"}, ""},
		{"none", nil, ""},
	} {
		if got := APIKey(requestHeader(tc.kv...), header); string(got) != tc.want {
			t.Errorf("%s: APIKey = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestLooksLikeJWT(t *testing.T) {
	for token, want := range map[string]bool{
		"a.b.c": true, "eyJ.eyJ.": true, "opaque-token": false, "a.b": false, "a.b.c.d": false, "": false,
	} {
		if got := LooksLikeJWT([]byte(token)); got != want {
			t.Errorf("LooksLikeJWT(%q) = %v", token, got)
		}
	}
}
