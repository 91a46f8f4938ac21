package pool

import (
	"net"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// FuzzParseHashOn parses arbitrary hash_on settings. An accepted setting
// prints back (String) to itself and parses again to the same HashOn; a
// header or cookie name is a non-empty token, so it cannot smuggle a
// separator into the header it reads. Keying a request that carries value
// in that header or cookie finds a non-zero key exactly when fasthttp
// hands back a non-empty value, and the same key for a second request
// with the same value; "ip" keys by the address, whatever its form.
func FuzzParseHashOn(f *testing.F) {
	for _, tc := range []struct{ setting, value string }{
		{"ip", ""},
		{"header:X-Session-ID", "abc"},
		{"cookie:sid", "abc"},
		{"header:", "x"},
		{"header:X Y", "x"},
		{"cookie:a=b", "x"},
		{"header:X-A:B", "x"},
		{"Header:X", "x"},
		{"ip ", ""},
		{"header:X\r\nY", "x"},
	} {
		f.Add(tc.setting, tc.value)
	}
	f.Fuzz(func(t *testing.T, setting, value string) {
		h, err := ParseHashOn(setting)
		if err != nil {
			if h != (HashOn{}) || !strings.Contains(err.Error(), "hash_on") {
				t.Fatalf("ParseHashOn(%q) refused with %+v, %v", setting, h, err)
			}
			return
		}
		if h.String() != setting {
			t.Fatalf("ParseHashOn(%q).String() = %q", setting, h.String())
		}
		if again, err := ParseHashOn(h.String()); err != nil || again != h {
			t.Fatalf("ParseHashOn(%q) again = %+v, %v", h.String(), again, err)
		}
		if h.kind != hashIP && !isToken(h.name) {
			t.Fatalf("ParseHashOn(%q) accepted the name %q", setting, h.name)
		}

		var req fasthttp.Request
		switch h.kind {
		case hashHeader:
			req.Header.Set(h.name, value)
		case hashCookie:
			req.Header.SetCookie(h.name, value)
		}
		ip := net.IPv4(192, 0, 2, byte(len(value)))
		k, ok := h.Key(&req, ip)
		var present bool
		switch h.kind {
		case hashHeader:
			present = len(req.Header.Peek(h.name)) > 0
		case hashCookie:
			present = len(req.Header.Cookie(h.name)) > 0
		case hashIP:
			present = true
		}
		if ok != present || ok != (k != 0) {
			t.Fatalf("%q with value %q: key %d, %v; value present %v", setting, value, k, ok, present)
		}
		var again fasthttp.Request
		req.CopyTo(&again)
		if k2, _ := h.Key(&again, ip.To4()); k2 != k {
			t.Fatalf("%q with value %q: key %d, then %d for the same request", setting, value, k, k2)
		}
	})
}
