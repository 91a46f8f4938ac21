package compress

import (
	"bytes"
	"strings"
)

// DefaultTypes are the content types compressed when Options.Types is
// empty: text, and the structured formats that are text under another name.
// Images, audio, video, fonts in WOFF and archives are left out on purpose:
// they are compressed already, and recompressing them costs CPU to gain
// nothing.
var DefaultTypes = []string{
	"text/*",
	"application/json",
	"application/javascript",
	"application/x-javascript",
	"application/ecmascript",
	"application/xml",
	"application/x-ndjson",
	"application/wasm",
	"application/vnd.ms-fontobject",
	"font/ttf",
	"font/otf",
	"image/svg+xml",
	"image/x-icon",
	"image/vnd.microsoft.icon",
	"image/bmp",
	"+json",
	"+xml",
}

// typeSet matches a response's media type against the configured patterns,
// which are compiled once: "type/subtype" matches exactly, "type/*" every
// subtype of type, and "+suffix" every media type with that structured
// syntax suffix (application/problem+json for "+json"). Matching ignores
// case and parameters, and does not allocate.
type typeSet struct {
	exact    []string
	prefixes []string
	suffixes []string
}

func newTypeSet(patterns []string) typeSet {
	var s typeSet
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(p))
		switch {
		case p == "":
		case strings.HasPrefix(p, "+"):
			s.suffixes = append(s.suffixes, p)
		case strings.HasSuffix(p, "/*"):
			s.prefixes = append(s.prefixes, strings.TrimSuffix(p, "*"))
		default:
			s.exact = append(s.exact, p)
		}
	}
	return s
}

// match reports whether the Content-Type value ct names a compressible
// media type.
func (s *typeSet) match(ct []byte) bool {
	mt, _, _ := bytes.Cut(ct, []byte{';'})
	mt = bytes.Trim(mt, " \t")
	if len(mt) == 0 {
		return false
	}
	for _, e := range s.exact {
		if equalFold(mt, e) {
			return true
		}
	}
	for _, p := range s.prefixes {
		if len(mt) > len(p) && equalFold(mt[:len(p)], p) {
			return true
		}
	}
	for _, x := range s.suffixes {
		if len(mt) > len(x) && equalFold(mt[len(mt)-len(x):], x) {
			return true
		}
	}
	return false
}
