package pool

import (
	"net"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestParseHashOn(t *testing.T) {
	for _, s := range []string{"ip", "header:X-Client-ID", "cookie:sid", "header:x_legacy"} {
		h, err := ParseHashOn(s)
		if err != nil {
			t.Errorf("ParseHashOn(%q): %v", s, err)
			continue
		}
		if h.String() != s {
			t.Errorf("ParseHashOn(%q).String() = %q", s, h.String())
		}
	}
	for _, s := range []string{"", "IP", "header", "header:", "cookie:", "query:x", "header:X Client", "header:a:b", "cookie:a;b"} {
		if _, err := ParseHashOn(s); err == nil || !strings.Contains(err.Error(), "hash_on") {
			t.Errorf("ParseHashOn(%q) = %v, want an error naming hash_on", s, err)
		}
	}
	if (HashOn{}).String() != "" {
		t.Error("zero HashOn has a name")
	}
}

// TestHashOnKeyIsStable pins the key function: gateways in different
// processes and builds must agree on it, or a client's requests would
// land on different instances depending on the gateway that took them.
// The expected values are FNV-1a 64 and MurmurHash3's fmix64, computed
// independently of this package.
func TestHashOnKeyIsStable(t *testing.T) {
	req := newRequest(t, fasthttp.MethodGet, "/")
	req.Header.Set("X-Client-ID", "abc")
	req.Header.SetCookie("sid", "client-42")

	tests := []struct {
		hashOn string
		ip     net.IP
		want   uint64
	}{
		{"header:X-Client-ID", nil, 0x33ebaf9927cbc5bd},
		{"header:x-client-id", nil, 0x33ebaf9927cbc5bd},
		{"cookie:sid", nil, 0xc45611be9bd9112b},
		{"ip", net.ParseIP("192.0.2.1"), 0x97f48f4f11a0ff40},
		{"ip", net.ParseIP("::ffff:192.0.2.1"), 0x97f48f4f11a0ff40},
		{"ip", net.IPv4(192, 0, 2, 1).To4(), 0x97f48f4f11a0ff40},
	}
	for _, tt := range tests {
		h, err := ParseHashOn(tt.hashOn)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := h.Key(req, tt.ip)
		if !ok || got != tt.want {
			t.Errorf("%s (ip %v): Key = %#x, %v; want %#x, true", tt.hashOn, tt.ip, got, ok, tt.want)
		}
	}
}

func TestHashOnKeyAbsent(t *testing.T) {
	req := newRequest(t, fasthttp.MethodGet, "/")
	req.Header.Set("X-Empty", "")
	req.Header.Set("X-Other", "v")
	req.Header.SetCookie("other", "v")
	for _, tt := range []struct {
		hashOn string
		ip     net.IP
	}{
		{"header:X-Client-ID", nil},
		{"header:X-Empty", nil},
		{"cookie:sid", nil},
		{"cookie:Other", nil}, // cookie names are case-sensitive
		{"ip", nil},
		{"ip", net.IP{1, 2, 3}},
	} {
		h, _ := ParseHashOn(tt.hashOn)
		if k, ok := h.Key(req, tt.ip); ok || k != 0 {
			t.Errorf("%s: Key = %#x, %v; want 0, false", tt.hashOn, k, ok)
		}
	}
	if k, ok := (HashOn{}).Key(req, net.ParseIP("192.0.2.1")); ok || k != 0 {
		t.Errorf("zero HashOn: Key = %#x, %v; want 0, false", k, ok)
	}
}

func TestHashKeyOnlyForConsistentHash(t *testing.T) {
	req := newRequest(t, fasthttp.MethodGet, "/")
	ip := net.ParseIP("192.0.2.1")
	hashed := newTestService(t, Options{Instances: []string{"a:1", "b:1"}, Balancer: BalancerConsistentHash, HashOn: "ip"})
	if k := hashed.HashKey(req, ip); k != 0x97f48f4f11a0ff40 {
		t.Errorf("consistent_hash service: HashKey = %#x", k)
	}
	if k := hashed.HashKey(req, nil); k != 0 {
		t.Errorf("consistent_hash service, no IP: HashKey = %#x, want 0", k)
	}
	plain := newTestService(t, Options{Instances: []string{"a:1", "b:1"}, HashOn: "ip"})
	if k := plain.HashKey(req, ip); k != 0 {
		t.Errorf("least_conn service: HashKey = %#x, want 0", k)
	}
}
