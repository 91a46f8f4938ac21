package compress

import (
	"bytes"
	"testing"
)

func TestNegotiate(t *testing.T) {
	for _, c := range []struct {
		header string
		want   Encoding
	}{
		{"", Identity},
		{"gzip", Gzip},
		{"zstd", Zstd},
		{"gzip, zstd", Zstd},
		{"zstd, gzip", Zstd},
		{"gzip, deflate, br, zstd", Zstd},
		{"gzip, deflate, br", Gzip},
		{"br", Identity},
		{"deflate", Identity},
		{"identity", Identity},
		{"gzip;q=0, zstd", Zstd},
		{"zstd;q=0, gzip", Gzip},
		{"zstd;q=0, gzip;q=0", Identity},
		{"*", Zstd},
		{"*;q=0", Identity},
		{"*;q=0, gzip", Gzip},
		{"*, zstd;q=0", Gzip},
		{"*;q=0.5, gzip", Gzip},
		{"*;q=0.5, gzip;q=0.4", Zstd},
		{"br, gzip;q=0.5, zstd;q=0.4", Gzip},
		{"br, gzip;q=0.4, zstd;q=0.5", Zstd},
		{"gzip;q=0.5, zstd;q=0.5", Zstd},
		{"gzip;q=1.0, zstd;q=0.999", Gzip},
		{"gzip;q=0.001", Gzip},
		{"identity;q=1, gzip;q=0.5", Identity},
		{"identity;q=0.5, gzip;q=0.5", Gzip},
		{"identity, gzip", Gzip},
		{"identity;q=0", Identity},
		{"GZIP", Gzip},
		{"ZsTd;Q=0.9, GZip;Q=0.8", Zstd},
		{"x-gzip", Gzip},
		{"  gzip  ;  q=0.5  ,   zstd ; q=0.6 ", Zstd},
		{"\tgzip\t;\tq=1", Gzip},
		{"gzip;level=9;q=0.7, zstd;q=0.6", Gzip},
		{",,gzip,,", Gzip},
		{"gzip, gzip;q=0", Identity},
		{"gzip;q=", Identity},
		{"gzip;q=2", Identity},
		{"gzip;q=1.5", Identity},
		{"gzip;q=0.1234", Identity},
		{"gzip;q=abc, zstd;q=0.1", Zstd},
		{"gzipx, zstdy", Identity},
	} {
		if got := Negotiate([]byte(c.header)); got != c.want {
			t.Errorf("Negotiate(%q) = %q, want %q", c.header, got, c.want)
		}
	}
}

func TestEncodingString(t *testing.T) {
	for e, want := range map[Encoding]string{Identity: "", Gzip: "gzip", Zstd: "zstd"} {
		if got := e.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", e, got, want)
		}
	}
}

// FuzzNegotiate checks that no header makes Negotiate panic, and that a
// coding is only ever chosen when the header could have named it.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{
		"", "gzip", "zstd;q=0.5, gzip;q=0.5", "*;q=0", ";;;,,,", "q=1", "gzip;q",
		"gzip;q=0.", "gzip;q=1.", "identity;q=0, *;q=0", "\x00gzip", "gzip;q=0.5;q=0",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, header []byte) {
		got := Negotiate(header)
		lower := bytes.ToLower(header)
		named := bytes.Contains(lower, []byte("*")) ||
			(got == Gzip && bytes.Contains(lower, []byte("gzip"))) ||
			(got == Zstd && bytes.Contains(lower, []byte("zstd")))
		if got != Identity && !named {
			t.Fatalf("Negotiate(%q) = %q, which the header does not name", header, got)
		}
	})
}
